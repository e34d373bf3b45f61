import ArgumentParser
import AsyncHTTPClient
import Enforcer
import Foundation

/// `sgctl status`: what the host's sgd is enforcing, from its /status.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what this host's sgd enforces: revision, kernel in sync, pending ports, rejections, errors.",
        discussion: "Exit 0 when sgd is healthy, 1 when it is not (the reason is shown), 3 when it doesn't answer.")

    @Option(help: "sgd's address (its --listen).")
    var url = "http://127.0.0.1:9469"

    @Option(help: "text or json (the daemon's /status as it is).")
    var output: Output = .text

    enum Output: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() async throws {
        let body: Data
        do {
            var request = HTTPClientRequest(url: url + "/status")
            request.method = .GET
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            guard response.status == .ok else { throw StatusError("HTTP \(response.status.code)") }
            body = Data(try await response.body.collect(upTo: 1 << 24).readableBytesView)
        } catch {
            printError("sgctl: sgd does not answer at \(url): \(error)")
            throw ExitStatus.kernelError
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let status = try decoder.decode(EnforcerStatus.self, from: body)
        switch output {
        case .json: print(String(decoding: body, as: UTF8.self))
        case .text: print(Self.table(status, now: Date()), terminator: "")
        }
        if status.healthProblem != nil { throw ExitCode(1) }
    }

    struct StatusError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Two aligned columns, then the lists (rejection errors, pending items).
    static func table(_ status: EnforcerStatus, now: Date) -> String {
        func ago(_ date: Date?) -> String {
            guard let date else { return "never" }
            let seconds = Int(now.timeIntervalSince(date).rounded())
            return seconds < 120 ? "\(seconds) s ago" : seconds < 7200 ? "\(seconds / 60) min ago" : "\(seconds / 3600) h ago"
        }
        var rows: [(String, String)] = [
            ("host", status.host),
            ("source", status.source + (status.sourceProblem.map { " (UNAVAILABLE: \($0))" } ?? "")),
            ("revision", status.revision?.label ?? "none yet"),
            ("kernel", (status.inSync ? "in sync" : "NOT in sync") + " (checked \(ago(status.lastCheck)))"),
            ("ports", "\(status.ports)" + (status.pending.isEmpty ? "" : ", \(status.pending.count) pending")),
        ]
        if let apply = status.lastApply {
            rows.append(("last apply", "\(ago(apply.at)), \(apply.reason): \(apply.summary) (\(apply.operations) operations, \(String(format: "%.1f", apply.milliseconds)) ms)"))
        }
        rows.append(("since start", "\(status.applies) applies, \(status.driftRepairs) drift repairs, \(status.errors) errors (started \(ago(status.startedAt)))"))
        if let error = status.lastError { rows.append(("last error", error)) }
        rows.append(("health", status.healthProblem ?? "ok"))
        if let rejected = status.rejectedRevision {
            rows.append(("rejected", "\(rejected.label): \(status.rejectedErrors.count) problem(s), the revision above stays enforced"))
        }
        let width = rows.map(\.0.count).max() ?? 0
        var text = rows.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 + "\n" }.joined()
        for error in status.rejectedErrors { text += "  rejected: \(error)\n" }
        for item in status.pending { text += "  pending: \(item)\n" }
        return text
    }
}
