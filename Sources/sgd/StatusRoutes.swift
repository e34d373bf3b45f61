import Enforcer
import Foundation
import Hummingbird
import Prometheus
import RuleStats

/// The daemon's HTTP endpoints.
enum StatusRoutes {
    static func router(enforcer: Enforcer, registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        // Prometheus text exposition format.
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            // The rules' counters, read from the kernel for this scrape. A
            // failed read leaves them out and counts the failure.
            do {
                buffer += Array(PrometheusText.render(StatsRow.rows(from: try await enforcer.counters())).utf8)
            } catch {
                await enforcer.noteCounterReadFailure(error)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        // 200 while a state is enforced and the last apply worked, else 503
        // and why: for a load balancer or a systemd watchdog script.
        router.get("/healthz") { _, _ -> Response in
            let problem = await enforcer.currentStatus.healthProblem
            return Response(
                status: problem == nil ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: (problem ?? "ok") + "\n")))
        }
        router.get("/status") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let body = try encoder.encode(await enforcer.currentStatus)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        return router
    }
}
