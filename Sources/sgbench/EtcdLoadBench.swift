import Controller
import Dataplane
import Distribution
import Etcd
import Foundation
import HostModel
import Netlink
import NIOPosix
import PolicyModel
import SyntheticCloud

/// The whole distribution path under load: port changes through the
/// controller, published to etcd, applied by `sgd` on three hosts. Each
/// change's latency runs from the start of its publish to the moment every
/// host it touched reports (in etcd) that its kernel holds the new revision.
/// At the end each host's kernel is read back and compared with what the
/// controller compiled for it.
///
/// The world: a control namespace running etcd, and one namespace per
/// host running `sgd --source etcd:...`, joined to the control namespace by
/// a veth pair. The ports' devices don't exist (filtering only), so what is
/// timed is the nftables side of a change, as in the other kernel benchmarks.
///
/// The daemons run in two ways, taking turns in blocks of changes (they are
/// restarted between blocks): as configured by default, planning against
/// the tables they last wrote while nftables' generation says nothing else
/// committed, and with `--read-tables-every-apply`, dumping the tables
/// before every apply.
struct EtcdLoadBench {
    let changes: Int
    let sgd: String
    static let blockSize = 100

    /// How the daemons run during a block.
    enum Mode: String, CaseIterable, Codable {
        case knownTables = "plans against the tables it wrote (default)"
        case readEveryApply = "dumps the tables before every apply"

        var arguments: [String] { self == .readEveryApply ? ["--read-tables-every-apply"] : [] }
    }

    struct Latency: Codable {
        var mode: String
        var changes: Int
        var endToEndP50: Double
        var endToEndP99: Double
        var endToEndMax: Double
    }

    struct Report: Codable {
        var hosts: Int
        var ports: Int
        var changes: Int
        var hostsPerChangeMean: Double
        /// Object keys and bytes a change wrote to etcd.
        var keysPerChangeMean: Double
        var bytesPerChangeP50: Int
        var publishP50: Double
        /// The default mode's figures.
        var endToEndP50: Double
        var endToEndP99: Double
        var endToEndMax: Double
        var byMode: [Latency]
        var converged: [String: Bool]

        func write(to path: String) throws { try writeJSON(self, to: path) }
    }

    /// Three hosts, VXLAN networks only (this kernel has no VLAN filtering).
    static func policy() -> Policy {
        var policy = SyntheticCloud.generate(CloudShape(hosts: 3, ports: 300, groups: 40, networks: 6))
        for i in policy.networks.indices {
            if case .vlan(let id) = policy.networks[i].segment { policy.networks[i].segment = .vxlan(vni: 20_000 + UInt32(id)) }
        }
        return policy
    }

    func run() async throws -> Report {
        let policy = Self.policy()
        let controller = try Controller(policy: policy)
        let hosts = policy.hosts.map(\.name)
        print("etcd load: \(hosts.count) hosts, \(policy.ports.count) ports, \(changes) port changes through etcd")

        // The world.
        let control = try Namespace("etcd")
        try control.run(["ip", "link", "set", "lo", "up"])
        var namespaces: [String: Namespace] = [:]
        for (i, host) in hosts.enumerated() {
            let ns = try Namespace("etcd-\(host)")
            try ns.run(["ip", "link", "set", "lo", "up"])
            try control.run(["ip", "link", "add", "to-\(host)", "type", "veth", "peer", "name", "etcd0", "netns", ns.name])
            try control.run(["ip", "addr", "add", "10.77.\(i).1/24", "dev", "to-\(host)"])
            try control.run(["ip", "link", "set", "to-\(host)", "up"])
            try ns.run(["ip", "addr", "add", "10.77.\(i).2/24", "dev", "etcd0"])
            try ns.run(["ip", "link", "set", "etcd0", "up"])
            try ns.run(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"])
            namespaces[host] = ns
        }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("sgbench-etcd-\(getpid())")
        defer { try? FileManager.default.removeItem(at: data) }
        let etcd = try control.start([
            "/usr/bin/etcd", "--name", "bench", "--data-dir", data.path, "--log-level", "error",
            "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://10.77.0.1:2379",
            "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
            "--initial-cluster", "bench=http://127.0.0.1:2380",
        ])
        var daemons: [String: Process] = [:]
        defer {
            for process in Array(daemons.values) + [etcd] where process.isRunning { process.terminate() }
            for process in Array(daemons.values) + [etcd] { process.waitUntilExit() }
        }

        // Our client's sockets live in the control namespace: its event loop
        // thread is started there.
        let group = try NetworkNamespace.run(path: control.path) { MultiThreadedEventLoopGroup(numberOfThreads: 1) }
        let client = try EtcdClient(endpoints: ["http://10.77.0.1:2379"], eventLoopGroup: group)
        let layout = EtcdLayout()
        var ready = false
        for _ in 0..<100 where !ready {
            ready = (try? await client.get(layout.revisionKey)) != nil
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard ready else { throw BenchError("etcd did not start in \(control.name)") }

        let acks = Acknowledgements()
        let watch = Task {
            for try await batch in client.watch(key: layout.statusPrefix, prefix: true, fromRevision: 1) {
                for case .put(let kv) in batch.events {
                    if let record = try? RecordCoding.decode(HostStatusRecord.self, kv.value), let revision = record.revision, record.inSync {
                        await acks.record(host: record.host, revision: revision)
                    }
                }
            }
        }
        defer { watch.cancel() }

        let publisher = EtcdPublisher(client: client, layout: layout)
        let first = try await publisher.publish(states: Dictionary(uniqueKeysWithValues: hosts.map { ($0, controller.state(of: $0)) }), label: "load")
        // The revision of each host's latest state: what its daemon reports
        // once restarted (a publish that didn't touch a host doesn't move it).
        var latest = Dictionary(uniqueKeysWithValues: hosts.map { ($0, first.revision) })
        // Each daemon's log, of its latest start.
        let logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sgbench-sgd-\(getpid())")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: logDirectory) }
        let logs = Dictionary(uniqueKeysWithValues: hosts.map { ($0, logDirectory.appendingPathComponent("\($0).log")) })
        /// (Re)starts every host's daemon in `mode` and waits until each has
        /// read the kernel and holds its latest revision.
        func startDaemons(_ mode: Mode) async throws {
            for process in daemons.values {
                process.terminate()
                process.waitUntilExit()
            }
            let started = ContinuousClock.now
            for (i, host) in hosts.enumerated() {
                daemons[host] = try namespaces[host]!.start([
                    sgd, "--source", "etcd:http://10.77.\(i).1:2379", "--host", host, "--listen", "10.77.\(i).2:9469", "--drift-interval", "0",
                ] + mode.arguments, log: logs[host])
            }
            for host in hosts {
                guard await acks.waitForReport(host: host, revision: latest[host]!, after: started, timeout: .seconds(60)) else {
                    let log = String(decoding: FileManager.default.contents(atPath: logs[host]!.path) ?? Data(), as: UTF8.self)
                    throw BenchError("sgd on \(host) did not start and report revision \(latest[host]!); its log:\n\(log.suffix(3000))")
                }
            }
        }
        try await startDaemons(.knownTables)
        print("  all hosts hold revision \(first.revision); timing \(changes) changes, in blocks of \(Self.blockSize) taking turns: sgd \(Mode.allCases.map(\.rawValue).joined(separator: ", sgd "))")

        var generator = ChangeGenerator(seed: 11)
        let kinds: [ChangeGenerator.Kind] = [.vmBoots, .vmDeleted, .joinsGroup, .leavesGroup, .addressPairAdded, .vmMigrates]
        var endToEnd: [Mode: [Duration]] = [:]
        var mode = Mode.knownTables
        var publishTimes: [Duration] = []
        var touched: [Int] = []
        var keysWritten: [Int] = []
        var bytesWritten: [Int] = []
        var attempts = 0
        while touched.count < changes && attempts < changes * 20 {
            attempts += 1
            let blockMode = Mode.allCases[touched.count / Self.blockSize % Mode.allCases.count]
            if blockMode != mode {
                mode = blockMode
                try await startDaemons(mode)
            }
            guard let change = generator.change(kinds[attempts % kinds.count], in: controller.index),
                let result = try? controller.apply([change]), !result.deltas.isEmpty
            else { continue }
            let affected = result.deltas.keys.sorted()
            let start = ContinuousClock.now
            let published = try await publisher.publish(
                changed: Dictionary(uniqueKeysWithValues: affected.map { ($0, controller.state(of: $0)) }), removed: [], label: "load")
            publishTimes.append(ContinuousClock.now - start)
            for host in published.written { latest[host] = published.revision }
            var slowest = Duration.zero
            for host in published.written {
                guard let arrived = await acks.wait(host: host, revision: published.revision, timeout: .seconds(30)) else {
                    throw BenchError("sgd on \(host) did not apply revision \(published.revision) within 30 s")
                }
                slowest = max(slowest, arrived - start)
            }
            endToEnd[mode, default: []].append(slowest)
            touched.append(published.written.count)
            keysWritten.append(published.keys)
            bytesWritten.append(published.bytes)
        }

        // Read back every host's kernel: it must hold exactly its compiled state.
        var converged: [String: Bool] = [:]
        for host in hosts {
            let desired = controller.state(of: host)
            converged[host] = try NetworkNamespace.run(path: namespaces[host]!.path) {
                let dataplane = Dataplane(kernel: try NetlinkKernel())
                let observed = try dataplane.observe(uplinks: Set(desired.links.trunks.keys))
                return try observed.tables == desired.tables && dataplane.plan(desired).isEmpty
            }
        }
        try? await client.shutdown()
        try? await group.shutdownGracefully()

        func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
        let byMode = Mode.allCases.map { mode in
            let sorted = endToEnd[mode, default: []].sorted()
            func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : ms(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) }
            return Latency(
                mode: mode.rawValue, changes: sorted.count, endToEndP50: percentile(0.5), endToEndP99: percentile(0.99), endToEndMax: sorted.last.map(ms) ?? 0)
        }
        let report = Report(
            hosts: hosts.count, ports: policy.ports.count, changes: touched.count,
            hostsPerChangeMean: Double(touched.reduce(0, +)) / Double(max(1, touched.count)),
            keysPerChangeMean: Double(keysWritten.reduce(0, +)) / Double(max(1, keysWritten.count)),
            bytesPerChangeP50: bytesWritten.isEmpty ? 0 : bytesWritten.sorted()[bytesWritten.count / 2],
            publishP50: publishTimes.isEmpty ? 0 : ms(publishTimes.sorted()[publishTimes.count / 2]),
            endToEndP50: byMode[0].endToEndP50, endToEndP99: byMode[0].endToEndP99, endToEndMax: byMode[0].endToEndMax, byMode: byMode,
            converged: converged)
        print(String(format: "  each change wrote %.1f keys on average, %d bytes (p50)", report.keysPerChangeMean, report.bytesPerChangeP50))
        print(String(format: "  publish p50 %.2f ms; %.2f hosts touched per change", report.publishP50, report.hostsPerChangeMean))
        for latency in byMode {
            print(String(format: "  publish to kernel on every touched host, sgd %@: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d changes)",
                         latency.mode, latency.endToEndP50, latency.endToEndP99, latency.endToEndMax, latency.changes))
        }
        print("  read back: " + hosts.map { "\($0) \(converged[$0]! ? "exactly its compiled state" : "DIFFERS from its compiled state")" }.joined(separator: ", "))
        return report
    }
}

/// Which revision each host reported, and waiters for the next ones,
/// resumed by the report itself (no polling, so no added delay).
actor Acknowledgements {
    typealias Instant = ContinuousClock.Instant
    private var applied: [String: (revision: Int64, at: Instant)] = [:]
    /// Every report, also of a revision reported before.
    private var lastReport: [String: (revision: Int64, at: Instant)] = [:]
    private var waiters: [Int: (host: String, revision: Int64, continuation: CheckedContinuation<Instant?, Never>)] = [:]
    private var nextWaiter = 0

    func record(host: String, revision: Int64) {
        let now = ContinuousClock.now
        lastReport[host] = (revision, now)
        if let current = applied[host], current.revision >= revision { return }
        applied[host] = (revision, now)
        for (id, waiter) in waiters where waiter.host == host && waiter.revision <= revision {
            waiters[id] = nil
            waiter.continuation.resume(returning: now)
        }
    }

    /// Whether `host` reported `revision` or later at or after `time` (a
    /// restarted daemon reports the revision it found in force); polled,
    /// as a start isn't timed.
    func waitForReport(host: String, revision: Int64, after time: Instant, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let report = lastReport[host], report.revision >= revision, report.at >= time { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// When `host` first reported `revision` or later; nil after `timeout`.
    func wait(host: String, revision: Int64, timeout: Duration) async -> Instant? {
        if let current = applied[host], current.revision >= revision { return current.at }
        let id = nextWaiter
        nextWaiter += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { waiters[id] = (host, revision, $0) }
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume(returning: nil)
    }
}
