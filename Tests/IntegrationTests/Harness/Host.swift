import Foundation
import Testing

/// A hypervisor host: a network namespace where `sgctl` runs.
struct Host: Sendable {
    let topology: Topology
    /// The host's name in the policy.
    let name: String
    let namespace: String
    /// The underlay interface (`eth1`) when the host is on the fabric.
    let uplink: String?
    let vtep: String?

    /// Runs a command inside the host namespace.
    func exec(_ argv: [String], stdin: String? = nil, timeout: Duration = .seconds(30)) async throws -> CommandOutput {
        try await Shell.run(["ip", "netns", "exec", namespace] + argv, stdin: stdin, timeout: timeout)
    }

    @discardableResult
    func mustExec(_ argv: [String], stdin: String? = nil) async throws -> String {
        try await Shell.must(["ip", "netns", "exec", namespace] + argv, stdin: stdin).stdout
    }

    // MARK: sgctl

    /// Writes the policy to a file and runs `sgctl ARGS FILE --host NAME` in this host's namespace.
    func sgctl(_ command: [String], _ policy: PolicyDoc, extra: [String] = []) async throws -> CommandOutput {
        try await sgctl(command, text: policy.json, extra: extra)
    }

    /// The same with the file's text as given (e.g. broken JSON), and optionally another `--host`.
    func sgctl(_ command: [String], text: String, hostName: String? = nil, extra: [String] = []) async throws -> CommandOutput {
        let file = topology.workDirectory.appendingPathComponent("policy-\(UUID().uuidString.prefix(8)).json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try await exec([Paths.sgctl] + command + [file.path, "--host", hostName ?? name] + extra)
    }

    /// `sgctl apply` as an operator runs it; returns whatever happened.
    func apply(_ policy: PolicyDoc) async throws -> CommandOutput {
        let out = try await sgctl(["apply"], policy)
        if out.succeeded { topology.ledger.enforce(policy.json, on: [name]) }
        return out
    }

    /// `sgctl apply --etcd URL` from this node: every host's state published.
    /// The hosts' sgd apply it; scenarios wait for that before they check.
    func publish(_ policy: PolicyDoc, etcd: String) async throws -> CommandOutput {
        let out = try await sgctl(["apply"], policy, extra: ["--etcd", etcd])
        if out.succeeded { topology.ledger.enforceEverywhere(policy.json) }
        return out
    }

    /// `sgctl apply`, which must succeed: a failure stops the scenario with sgctl's output.
    @discardableResult
    func mustApply(_ policy: PolicyDoc, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CommandOutput {
        let out = try await apply(policy)
        if !out.succeeded {
            await topology.fail("sgctl apply on \(name) failed: \(out)", sourceLocation)
            throw HarnessError("sgctl apply on \(name) failed (exit \(out.status)); see the recorded issue")
        }
        return out
    }

    func plan(_ policy: PolicyDoc) async throws -> CommandOutput {
        try await sgctl(["plan"], policy, extra: ["--detailed-exitcode"])
    }

    // MARK: kernel state through the stock tools

    func nftRuleset() async throws -> String { try await mustExec(["nft", "list", "ruleset"]) }

    /// What a failed or refused apply must leave exactly as it was: the
    /// ruleset as `nft list ruleset` prints it, except that counter values
    /// (which traffic moves) are kept apart, and `bridge link` and `ip -d link`
    /// (minus the bridges' running timers, which change by themselves).
    struct Snapshot: Equatable {
        var ruleset: String
        var counters: [Int]
        var bridgePorts: String
        var links: String

        /// Equal but for counters that traffic moved on; a counter going
        /// back means its rule was replaced.
        func unchanged(since before: Snapshot) -> Bool {
            ruleset == before.ruleset && bridgePorts == before.bridgePorts && links == before.links
                && counters.count == before.counters.count && zip(before.counters, counters).allSatisfy { $0 <= $1 }
        }
    }

    func snapshot() async throws -> Snapshot {
        let counter = #/counter packets ([0-9]+) bytes ([0-9]+)/#
        let full = try await nftRuleset()
        let links = try await mustExec(["ip", "-d", "link"])
        let timers = #/(hello_timer|tcn_timer|topology_change_timer|gc_timer|message_age_timer|forward_delay_timer|hold_timer) +[0-9.]+/#
        return Snapshot(
            ruleset: full.replacing(counter, with: "counter packets * bytes *"),
            counters: full.matches(of: counter).map { Int($0.output.1)! },
            bridgePorts: try await mustExec(["bridge", "link"]),
            links: links.replacing(timers, with: { m in "\(m.output.1) *" }))
    }

    /// `conntrack -L` in the host namespace (stdout: one entry per line).
    func conntrackEntries() async throws -> [String] {
        let out = try await exec(["conntrack", "-L"])
        return out.stdout.split(whereSeparator: \.isNewline).map(String.init)
    }

    /// Starts `nft monitor` in the host namespace; its stdout collects the events.
    func nftMonitor() async throws -> Child {
        let child = try topology.start(["ip", "netns", "exec", namespace, "nft", "monitor"])
        try await Task.sleep(for: .milliseconds(300))  // subscribed before anything happens
        return child
    }

    // MARK: VMs

    /// A VM: its own namespace with `eth0` (the policy's MAC and IPs, IPv4 as
    /// /24 and IPv6 as /64 unless given with a prefix length), whose peer on
    /// this host is the port's device (`tap-NAME` unless given). With
    /// `plugged: false` the device is created later by `VM.plugIn()`, as when
    /// a VM boots after its port was declared.
    func vm(
        _ name: String, network: String, mac: String, ips: [String], device: String? = nil, plugged: Bool = true
    ) async throws -> VM {
        let ns = try await topology.addNamespace(name)
        for scope in ["default", "all"] {
            // Addresses are usable at once; nothing waits for DAD.
            try await Shell.must(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.\(scope).accept_dad=0"])
        }
        let vm = VM(host: self, name: name, namespace: ns, network: network, mac: mac, ips: ips, device: device ?? "tap-\(name)")
        if plugged { try await vm.plugIn() }
        return vm
    }
}
