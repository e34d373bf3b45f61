import Foundation
import Testing

/// `sgd` running in a host namespace with a policy file as its source.
/// Its HTTP endpoints are on the namespace's own loopback, so every host
/// uses the default port.
struct Daemon: Sendable {
    let host: Host
    /// The policy file of a file-sourced daemon.
    let policyFile: URL?
    let arguments: [String]
    let child: Child

    /// Writes `policy` and starts `sgd --source file:... --host NAME`.
    static func start(on host: Host, policy: PolicyDoc, driftInterval: Int = 2, extra: [String] = []) async throws -> Daemon {
        let file = host.topology.workDirectory.appendingPathComponent("sgd-\(host.name).json")
        try policy.json.write(to: file, atomically: true, encoding: .utf8)
        host.topology.ledger.enforce(policy.json, on: [host.name])
        let arguments = [
            Paths.sgd, "--source", "file:\(file.path)", "--host", host.name, "--drift-interval", "\(driftInterval * Slowness.factor)",
        ] + extra
        return try Daemon(host: host, policyFile: file, arguments: arguments, child: Self.launch(host, arguments))
    }

    /// Starts `sgd --source etcd:URL --host NAME`.
    static func start(on host: Host, etcd: String, driftInterval: Int = 2) async throws -> Daemon {
        let arguments = [Paths.sgd, "--source", "etcd:\(etcd)", "--host", host.name, "--drift-interval", "\(driftInterval * Slowness.factor)"]
        return try Daemon(
            host: host, policyFile: nil, arguments: arguments,
            child: Self.launch(host, arguments))
    }

    private static func launch(_ host: Host, _ arguments: [String]) throws -> Child {
        try host.topology.start(["ip", "netns", "exec", host.namespace] + arguments)
    }

    /// The same daemon started again (after `stop` or `kill`), as systemd would.
    func restarted() throws -> Daemon {
        try Daemon(host: host, policyFile: policyFile, arguments: arguments, child: Self.launch(host, arguments))
    }

    /// Replaces the policy file the way config management does: a new
    /// file renamed over the old one. (If the text is a valid policy, it is
    /// what the host enforces once sgd has applied it.)
    func write(_ text: String) throws {
        try text.write(to: policyFile!, atomically: true, encoding: .utf8)
        host.topology.ledger.enforce(text, on: [host.name])
    }
    func write(_ policy: PolicyDoc) throws { try write(policy.json) }

    /// What sgd logged so far.
    var log: String { child.stderr }

    /// `sgctl status --output json` in the host namespace; nil when sgd
    /// doesn't answer (see `answered`).
    func status() async throws -> [String: Any]? { try await answered(statusOnce) }

    /// One `sgctl status --output json`; nil if sgd doesn't answer it.
    private func statusOnce() async throws -> [String: Any]? {
        let out = try await host.exec([Paths.sgctl, "status", "--output", "json"])
        guard out.succeeded || out.status == 1 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
    }

    /// `sgctl status` as an operator reads it; nil when sgd doesn't answer.
    func statusText() async throws -> CommandOutput? {
        try await answered {
            let out = try await host.exec([Paths.sgctl, "status"])
            return out.status == 3 ? nil : out  // 3: no answer
        }
    }

    /// What `request` gets from sgd, asked again while sgd runs but gives
    /// no answer, for up to 10 s × SGI_SLOW: in the emulated VM, with
    /// another scenario's dozens of probes starting, one request sometimes
    /// takes longer than its client's 5 s. A daemon that exited is not
    /// asked again.
    private func answered<Answer>(_ request: () async throws -> Answer?) async throws -> Answer? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10) * Slowness.factor)
        while true {
            if let answer = try await request() { return answer }
            guard child.isRunning, clock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The revision label in force, per /status.
    func revision() async throws -> String? {
        ((try await status())?["revision"] as? [String: Any])?["label"] as? String
    }

    /// Waits until the status satisfies `condition`; false after `timeout`.
    func waitUntil(timeout: Duration = .seconds(10), _ condition: ([String: Any]) -> Bool) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout * Slowness.factor)
        while clock.now < deadline {
            // A loop of its own: one read per turn, so its deadline holds.
            if let status = try await statusOnce(), condition(status) { return true }
            guard child.isRunning else { return false }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Waits until sgd enforces a revision other than `previous` and the kernel matches it.
    func waitForNewRevision(after previous: String?, timeout: Duration = .seconds(10)) async throws -> Bool {
        try await waitUntil(timeout: timeout) { status in
            let label = (status["revision"] as? [String: Any])?["label"] as? String
            return label != nil && label != previous && status["inSync"] as? Bool == true
        }
    }

    /// GET on sgd's HTTP port, with Python's urllib as an independent client.
    /// (status 0 and urllib's reason when sgd gives no answer.)
    func get(_ path: String) async throws -> (status: Int, body: String) {
        var unanswered = (status: 0, body: "")
        return try await answered {
            let response = try await host.httpGet("http://127.0.0.1:9469\(path)")
            if response.status == 0 { unanswered = response }
            return response.status == 0 ? nil : response
        } ?? unanswered
    }

    /// The value of one Prometheus sample, e.g. `sgd_drift_repairs_total`.
    func metric(_ sample: String) async throws -> Double? {
        let (_, body) = try await get("/metrics")
        for line in body.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }
}
