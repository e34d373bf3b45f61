import ArgumentParser
import AsyncHTTPClient
import Distribution
import Enforcer
import Etcd
import Foundation

/// `sgctl status`: what the host's sgd is enforcing, from its /status; with
/// `--etcd`, every host's convergence from the reports in etcd.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what this host's sgd enforces: revision, kernel in sync, pending ports, rejections, errors. With --etcd, every host's convergence.",
        discussion: """
            Exit 0 when sgd is healthy, 1 when it is not (the reason is shown), 3 when it doesn't answer. \
            With --etcd: one row per host, the revision published for it beside the one its sgd \
            reports in force; exit 0 when every published host holds its revision with its kernel \
            in sync, 1 when one does not (behind, not in sync, never reported), 3 when etcd fails.
            """)

    @Option(help: "sgd's address (its --listen).")
    var url = "http://127.0.0.1:9469"

    @Option(help: "Read every host's report from etcd (URL[,URL...]) instead of asking this host's sgd.")
    var etcd: String?

    @OptionGroup var etcdOptions: EtcdOptions

    @Option(help: "text or json (the daemon's /status as it is; with --etcd, the hosts' rows).")
    var output: Output = .text

    enum Output: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() async throws {
        if let etcd {
            try await fleet(endpoints: etcd.split(separator: ",").map(String.init))
            return
        }
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

    /// Every host's row from etcd; exit 1 unless all have converged.
    func fleet(endpoints: [String]) async throws {
        let fleet: FleetStatus
        let client = try EtcdClient(endpoints: endpoints, tls: etcdOptions.tls)
        do {
            fleet = try await FleetStatus.read(from: client, layout: etcdOptions.layout)
        } catch {
            try? await client.shutdown()
            printError("sgctl: \(error)")
            throw ExitStatus.kernelError
        }
        try? await client.shutdown()
        switch output {
        case .json:
            try printJSON(fleet)
        case .text:
            print(Self.table(fleet, now: Date()), terminator: "")
        }
        if !fleet.allConverged { throw ExitCode(1) }
    }

    /// "12 s ago", "5 min ago", "3 h ago", or "never".
    static func ago(_ date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        let seconds = Int(now.timeIntervalSince(date).rounded())
        return seconds < 120 ? "\(seconds) s ago" : seconds < 7200 ? "\(seconds / 60) min ago" : "\(seconds / 3600) h ago"
    }

    /// A summary line, then one aligned row per host; hosts' errors below.
    static func table(_ fleet: FleetStatus, now: Date) -> String {
        var counts: [FleetStatus.Convergence: Int] = [:]
        for host in fleet.hosts { counts[host.state, default: 0] += 1 }
        let tally = FleetStatus.Convergence.allCases.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }
        var text = "published  " + (fleet.revision == 0 ? "nothing yet" : "revision \(fleet.revision)" + (fleet.label.map { " (\($0))" } ?? ""))
        text += "; \(fleet.hosts.count) hosts" + (tally.isEmpty ? "" : ": " + tally.joined(separator: ", ")) + "\n"
        guard !fleet.hosts.isEmpty else { return text }
        var rows = [["HOST", "PUBLISHED", "IN FORCE", "KERNEL", "PENDING", "REPORTED", "STATE"]]
        for host in fleet.hosts {
            let report = host.report
            rows.append([
                host.host,
                host.published.map { "\($0)" } ?? "-",
                report.map { $0.revision.map { "\($0)" } ?? "none" } ?? "-",
                report.map { $0.inSync ? "in sync" : "NOT in sync" } ?? "-",
                report.map { "\($0.pending)" } ?? "-",
                ago(report.map { Date(timeIntervalSince1970: $0.reportedAt) }, now: now),
                host.state == .converged || host.state == .notPublished ? host.state.rawValue : host.state.rawValue.uppercased(),
            ])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = zip(row, widths).enumerated().map { i, cell in i == row.count - 1 ? cell.0 : cell.0.padding(toLength: cell.1 + 2, withPad: " ", startingAt: 0) }
            text += cells.joined() + "\n"
        }
        for host in fleet.hosts { if let error = host.report?.error { text += "  \(host.host): last error: \(error)\n" } }
        return text
    }

    /// Two aligned columns, then the lists (rejection errors, pending items).
    static func table(_ status: EnforcerStatus, now: Date) -> String {
        func ago(_ date: Date?) -> String { Self.ago(date, now: now) }
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
