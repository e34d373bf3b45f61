import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The integration tests need root: they create network namespaces, veth
/// pairs and bridges, and run `sgctl apply` inside them. Without root they
/// are skipped, and say so on stderr (a skip reason alone is easy to miss);
/// in CI (CI set) they run regardless and fail if they can't.
enum Root {
    static let available: Bool = {
        let isRoot = getuid() == 0
        let inCI = ProcessInfo.processInfo.environment["CI"] != nil
        if !isRoot && !inCI {
            FileHandle.standardError.write(Data("""

                !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
                !!! IntegrationTests SKIPPED: not root. They build hosts and VMs as network     !!!
                !!! namespaces and apply policies with sgctl; run the tests as root, as CI does. !!!
                !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

                """.utf8))
        }
        return isRoot || inCI
    }()
    static let reason: Comment = "NEEDS ROOT: network namespaces and sgctl apply; run as root, as CI does"
}

/// Where things are: the package root, found from this file, and what lives under it.
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The built binary under test; the tests build nothing themselves.
    static let sgctl = packageRoot.appendingPathComponent(".build/debug/sgctl").path
    static let sgd = packageRoot.appendingPathComponent(".build/debug/sgd").path
    static let scripts = packageRoot.appendingPathComponent("integration/scripts")
    static func script(_ name: String) -> String { scripts.appendingPathComponent(name).path }
    /// Host state of failed scenarios is written here for the bug report.
    static let diagnostics = URL(fileURLWithPath: "/tmp/sgi-diagnostics")
}

/// One scenario's world: a set of network namespaces (hosts, VMs, and the
/// fabric that joins the hosts' uplinks), all named
/// `sgi<pid>-<tag>-<name>`, and the background processes started in them.
/// `Topology.with` removes everything at the end, also when the test fails.
final class Topology: @unchecked Sendable {
    let tag: String
    let prefix: String
    let workDirectory: URL
    /// The policy each host enforces, for tracing the checks.
    let ledger = PolicyLedger()
    private let lock = NSLock()
    private var namespaces: [String] = []
    private var children: [Child] = []
    private var hosts: [Host] = []
    private var fabricCreated = false
    private var diagnosticsWritten = false

    private init(tag: String) {
        self.tag = tag
        prefix = "sgi\(getpid())-\(tag)"
        workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
    }

    /// Runs `body` in a fresh topology and always tears it down.
    static func with(_ tag: String, _ body: (Topology) async throws -> Void) async throws {
        try await Preflight.once()
        await Throttle.shared.acquire()
        let topology = Topology(tag: tag)
        do {
            try FileManager.default.createDirectory(at: topology.workDirectory, withIntermediateDirectories: true)
            try await body(topology)
        } catch {
            await topology.writeDiagnostics(reason: "\(error)")
            await topology.teardown()
            await Throttle.shared.release()
            throw error
        }
        await topology.teardown()
        await Throttle.shared.release()
    }

    func namespaceName(_ name: String) -> String { "\(prefix)-\(name)" }

    func addNamespace(_ name: String) async throws -> String {
        let ns = namespaceName(name)
        try await Shell.must(["ip", "netns", "add", ns])
        lock.withLock { namespaces.append(ns) }
        try await Shell.must(["ip", "-n", ns, "link", "set", "lo", "up"])
        return ns
    }

    /// Starts a long-running command; it is stopped at teardown at the latest.
    func start(_ argv: [String], input: String? = nil, keepInputOpen: Bool = false) throws -> Child {
        let child = try Child(argv, stdin: input, keepInputOpen: keepInputOpen)
        lock.withLock { children.append(child) }
        return child
    }

    // MARK: hosts and the fabric

    /// A hypervisor: a namespace with br_netfilter's sysctls on. With a
    /// `vtep`, it also gets an uplink `eth1` carrying that address, plugged
    /// into the fabric bridge that joins all hosts' uplinks.
    func host(_ name: String, vtep: String? = nil) async throws -> Host {
        try await host(name, uplink: vtep == nil ? nil : "eth1", address: vtep)
    }

    /// A hypervisor as a policy declares it: with an `uplink` (any name, e.g.
    /// `bond0`) plugged into the fabric bridge, carrying `address` (the VTEP,
    /// as /24 or /64) when given. The fabric bridge doesn't filter VLANs, so
    /// the uplinks also form a trunk for tagged frames (VLAN segments need
    /// no address on the uplink).
    func host(_ name: String, uplink: String?, address: String?) async throws -> Host {
        let ns = try await addNamespace(name)
        for key in ["net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables", "net.bridge.bridge-nf-filter-vlan-tagged"] {
            try await Shell.must(["ip", "netns", "exec", ns, "sysctl", "-qw", "\(key)=1"])
        }
        let host = Host(topology: self, name: name, namespace: ns, uplink: uplink, vtep: address)
        if let uplink {
            let fabric = try await fabricNamespace()
            try await Shell.must(["ip", "-n", ns, "link", "add", uplink, "type", "veth", "peer", "name", name, "netns", fabric])
            try await Shell.must(["ip", "-n", fabric, "link", "set", name, "master", "fab0", "up"])
            if let address {
                try await Shell.must(["ip", "-n", ns, "addr", "add", "\(address)/\(address.contains(":") ? 64 : 24)", "dev", uplink])
            }
            try await Shell.must(["ip", "-n", ns, "link", "set", uplink, "up"])
        }
        lock.withLock { hosts.append(host) }
        return host
    }

    /// The underlay switch: a namespace with one plain bridge, `fab0`.
    private func fabricNamespace() async throws -> String {
        let ns = namespaceName("fab")
        if lock.withLock({ fabricCreated }) { return ns }
        _ = try await addNamespace("fab")
        try await Shell.must(["ip", "-n", ns, "link", "add", "fab0", "type", "bridge"])
        try await Shell.must(["ip", "-n", ns, "link", "set", "fab0", "up"])
        lock.withLock { fabricCreated = true }
        return ns
    }

    // MARK: teardown and evidence

    func teardown() async {
        // Emptied here, which also breaks the Topology <-> Host reference cycle.
        let (running, names) = lock.withLock {
            defer { (children, namespaces, hosts) = ([], [], []) }
            return (children, namespaces)
        }
        for child in running {
            child.closeInput()
            await child.stop()
        }
        for ns in names.reversed() { await Self.deleteNamespace(ns) }
        try? FileManager.default.removeItem(at: workDirectory)
    }

    /// Kills what still runs inside a namespace (only processes in it) and deletes it.
    static func deleteNamespace(_ ns: String) async {
        if let pids = try? await Shell.run(["ip", "netns", "pids", ns]) {
            for pid in pids.stdout.split(whereSeparator: \.isNewline).compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        _ = try? await Shell.run(["ip", "netns", "delete", ns])
    }

    /// The hosts' kernel state as the stock tools show it: written to
    /// /tmp/sgi-diagnostics/TAG.txt when a check fails, for the bug report.
    func hostState() async -> String {
        var text = ""
        for host in lock.withLock({ hosts }) {
            for argv in [["nft", "list", "ruleset"], ["bridge", "link"], ["ip", "-d", "link"], ["bridge", "fdb", "show"], ["conntrack", "-L"]] {
                let out = try? await Shell.run(["ip", "netns", "exec", host.namespace] + argv)
                text += "===== host \(host.name) (\(host.namespace)): \(argv.joined(separator: " ")) [exit \(out?.status ?? -1)]\n"
                text += (out?.stdout ?? "") + (out?.stderr ?? "") + "\n"
            }
        }
        return text
    }

    @discardableResult
    func writeDiagnostics(reason: String) async -> String {
        guard lock.withLock({ () -> Bool in
            defer { diagnosticsWritten = true }
            return !diagnosticsWritten
        }) else { return Paths.diagnostics.appendingPathComponent("\(tag).txt").path }
        let file = Paths.diagnostics.appendingPathComponent("\(tag).txt")
        try? FileManager.default.createDirectory(at: Paths.diagnostics, withIntermediateDirectories: true)
        let text = "scenario \(tag): first failure: \(reason)\n\n" + (await hostState())
        try? text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Records a failed check with what was run and where the host state went.
    func fail(_ message: String, _ sourceLocation: SourceLocation) async {
        let file = await writeDiagnostics(reason: message)
        Issue.record("\(message)\n(host state: \(file); \(MachineLoad.summary))", sourceLocation: sourceLocation)
    }
}

/// How loaded the machine was when a check failed: in the stock-kernel VM
/// the diagnostics file is gone with the VM, and a starved or memory-short
/// guest explains failures no rule does.
enum MachineLoad {
    static var summary: String {
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        var memory: [String: Int] = [:]
        for line in ((try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int(fields[1]) { memory[String(fields[0].dropLast())] = kib / 1024 }
        }
        let mib = { (key: String) in memory[key].map { "\($0)" } ?? "?" }
        return "machine: load \(load), memory available \(mib("MemAvailable")) of \(mib("MemTotal")) MiB, shmem \(mib("Shmem")) MiB"
    }
}

/// Checks, once per test process, what every scenario needs: root, the
/// tools, the built sgctl, br_netfilter; and removes namespaces left over by
/// earlier runs that died (their `sgi<pid>-` process is gone).
enum Preflight {
    private static let result = Task<String?, Never> {
        for tool in ["/usr/sbin/ip", "/usr/sbin/nft", "/usr/sbin/bridge", "/usr/sbin/conntrack", "/usr/bin/ping", "/usr/bin/python3"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "missing \(tool) (apt-get install iproute2 nftables conntrack iputils-ping python3)"
        }
        if let scapy = try? await Shell.run(["python3", "-c", "import scapy.all"]), !scapy.succeeded {
            return "python3 can't import scapy (apt-get install python3-scapy): \(scapy.stderr)"
        }
        for binary in [Paths.sgctl, Paths.sgd] where !FileManager.default.isExecutableFile(atPath: binary) {
            return "\(binary) is missing: build first (swift build --build-tests)"
        }
        if !FileManager.default.fileExists(atPath: "/proc/sys/net/bridge") {
            // The only change outside the test namespaces the tests make.
            _ = try? await Shell.run(["modprobe", "br_netfilter"])
            if !FileManager.default.fileExists(atPath: "/proc/sys/net/bridge") {
                return "br_netfilter is not available (modprobe br_netfilter failed): bridged traffic can't be filtered"
            }
        }
        await removeLeftovers()
        try? FileManager.default.removeItem(at: Paths.diagnostics)  // evidence of this run only
        return nil
    }

    static func once() async throws {
        if let problem = await result.value { throw HarnessError("integration test preflight: \(problem)") }
    }

    /// Namespaces and work directories named `sgi<pid>-...` whose test process is gone.
    static func removeLeftovers() async {
        func orphaned(_ name: String) -> Bool {
            guard name.hasPrefix("sgi"), let dash = name.firstIndex(of: "-"),
                let pid = Int32(name[name.index(name.startIndex, offsetBy: 3)..<dash])
            else { return false }
            return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
        }
        if let list = try? await Shell.run(["ip", "netns", "list"]) {
            for line in list.stdout.split(whereSeparator: \.isNewline) {
                let name = String(line.split(separator: " ").first ?? "")
                if orphaned(name) { await Topology.deleteNamespace(name) }
            }
        }
        let temporary = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where orphaned(name) {
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
        }
    }
}
