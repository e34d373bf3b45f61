import Dataplane
import Enforcer
import Foundation
import HostModel
import Logging
import PolicyCompiler
import PolicyModel
import Testing

/// The enforcer's rules against the in-memory kernel: what it applies on a
/// new revision, a rejected one, a device appearing, drift, a failed batch,
/// and a restart into a kernel that already has the state.
@Suite struct EnforcerTests {
    static func mac(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n)) }

    static func port(_ n: Int, groups: [String] = ["web"]) -> PolicyModel.Port {
        Port(name: "vm\(n)", host: "h1", device: "tap\(n)", network: "net", mac: mac(n), ips: [IPAddress("10.0.0.\(n)")!], securityGroups: groups)
    }

    static func state(_ ports: [PolicyModel.Port]) throws -> HostState {
        let policy = Policy(
            networks: [Network(name: "net", segment: .vxlan(vni: 100))],
            hosts: [Host(name: "h1", uplink: "eth1", vtep: IPAddress("192.0.2.1")), Host(name: "h2", uplink: "eth1", vtep: IPAddress("192.0.2.2"))],
            securityGroups: [
                SecurityGroup(name: "web", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)])]),
                SecurityGroup(name: "ssh", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)])]),
            ],
            ports: ports)
        return try PolicyCompiler(policy).compile(host: "h1")
    }

    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func revision(_ n: Int64) -> Revision { Revision(number: n, label: "r\(n)") }

    /// An enforcer on a memory kernel, without timers: the test drives it.
    static func enforcer(_ kernel: MemoryKernel) -> Enforcer {
        Enforcer(
            host: "h1", source: "test", dataplane: Dataplane(kernel: kernel),
            configuration: Enforcer.Configuration(driftInterval: nil, linkSettle: .zero),
            logger: Self.quiet)
    }

    @Test func appliesEachRevisionAndReportsIt() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let enforcer = Self.enforcer(kernel)
        let first = try Self.state([Self.port(1)])
        await enforcer.accept(.desired(first, Self.revision(1)))
        #expect(kernel.state == first)
        let second = try Self.state([Self.port(1), Self.port(2, groups: ["ssh"])])
        await enforcer.accept(.desired(second, Self.revision(2)))
        #expect(kernel.state == second)
        let status = await enforcer.currentStatus
        #expect(status.revision == Self.revision(2))
        #expect(status.inSync && status.healthProblem == nil)
        #expect(status.applies == 2 && status.ports == 2 && status.driftRepairs == 0)
        #expect(status.lastApply?.reason == "policy r2")
    }

    @Test func aRevisionThatDoesNotChangeThisHostTouchesNothing() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "eth1"])
        let enforcer = Self.enforcer(kernel)
        let state = try Self.state([Self.port(1)])
        await enforcer.accept(.desired(state, Self.revision(1)))
        let calls = kernel.log.count
        await enforcer.accept(.desired(state, Self.revision(2)))
        #expect(kernel.log.count == calls)
        let status = await enforcer.currentStatus
        #expect(status.revision == Self.revision(2) && status.applies == 1)
    }

    @Test func reportsEachRevisionInForceOnce() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "eth1"])
        let reporter = RecordingReporter()
        let enforcer = Enforcer(
            host: "h1", source: "test", dataplane: Dataplane(kernel: kernel),
            configuration: Enforcer.Configuration(driftInterval: nil, linkSettle: .zero), reporter: reporter, logger: Self.quiet)
        await enforcer.accept(.desired(try Self.state([Self.port(1)]), Self.revision(1)))
        await enforcer.checkForDrift()  // nothing changed: no report
        kernel.failNextBatch = "busy"
        await enforcer.accept(.desired(try Self.state([Self.port(1, groups: ["ssh"])]), Self.revision(2)))
        // Reports are handed over without waiting: give them a moment.
        for _ in 0..<100 where await reporter.reports.count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        let reports = await reporter.reports.sorted { $0.sequence < $1.sequence }
        #expect(reports.count == 2)
        #expect(reports.first.map { $0.revision == 1 && $0.inSync && $0.error == nil } == true)
        #expect(reports.last.map { $0.revision == 1 && !$0.inSync && $0.error?.contains("busy") == true } == true)
    }

    @Test func aRejectedPolicyLeavesTheLastGoodStateEnforced() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "eth1"])
        let enforcer = Self.enforcer(kernel)
        let good = try Self.state([Self.port(1)])
        await enforcer.accept(.desired(good, Self.revision(1)))
        let calls = kernel.log.count
        await enforcer.accept(.rejected(Self.revision(2), errors: ["ports[0].mac: not a MAC address"]))
        #expect(kernel.log.count == calls)
        #expect(kernel.state == good)
        var status = await enforcer.currentStatus
        #expect(status.revision == Self.revision(1))
        #expect(status.rejectedRevision == Self.revision(2))
        #expect(status.rejectedErrors == ["ports[0].mac: not a MAC address"])
        #expect(status.healthProblem == nil)
        // A fixed policy supersedes the rejection.
        await enforcer.accept(.desired(try Self.state([]), Self.revision(3)))
        status = await enforcer.currentStatus
        #expect(status.rejectedRevision == nil && status.revision == Self.revision(3))
    }

    @Test func aSourceThatGoesAwayChangesNothing() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "eth1"])
        let enforcer = Self.enforcer(kernel)
        let good = try Self.state([Self.port(1)])
        await enforcer.accept(.desired(good, Self.revision(1)))
        let calls = kernel.log.count
        await enforcer.accept(.unavailable("etcd: connection refused"))
        await enforcer.checkForDrift()
        #expect(kernel.log.count == calls && kernel.state == good)
        let status = await enforcer.currentStatus
        #expect(status.sourceProblem == "etcd: connection refused")
        #expect(status.healthProblem == nil)
    }

    @Test func noPolicyYetMeansNoKernelChangeAndUnhealthy() async throws {
        let kernel = MemoryKernel(devices: ["tap1"])
        let enforcer = Self.enforcer(kernel)
        await enforcer.accept(.unavailable("/etc/sgctl/policy.json does not exist"))
        await enforcer.checkForDrift()
        await enforcer.linkChanged(.changed(device: "tap1"))
        #expect(kernel.log.isEmpty)
        let problem = await enforcer.currentStatus.healthProblem
        #expect(problem == "no policy applied yet from test: /etc/sgctl/policy.json does not exist")
    }

    @Test func aDeviceThatAppearsIsAttached() async throws {
        let kernel = MemoryKernel(devices: ["eth1"])
        let enforcer = Self.enforcer(kernel)
        let desired = try Self.state([Self.port(1)])
        await enforcer.accept(.desired(desired, Self.revision(1)))
        #expect(kernel.state.links.ports["tap1"] == nil)
        #expect(await enforcer.currentStatus.pending == ["port device tap1 does not exist yet"])
        kernel.devices.insert("tap1")
        // A device the policy doesn't name is no reason to look.
        let calls = kernel.log.count
        await enforcer.linkChanged(.changed(device: "eth7"))
        #expect(kernel.log.count == calls)
        await enforcer.linkChanged(.changed(device: "tap1"))
        #expect(kernel.state == desired)
        let status = await enforcer.currentStatus
        #expect(status.pending.isEmpty)
        #expect(status.lastApply?.reason == "device tap1")
        #expect(status.driftRepairs == 0)
    }

    @Test func driftIsRepairedAndCounted() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let enforcer = Self.enforcer(kernel)
        let desired = try Self.state([Self.port(1), Self.port(2)])
        await enforcer.accept(.desired(desired, Self.revision(1)))
        let inet = NFTTableID(.inet, Naming.table)
        // Someone deletes the inet table and moves a port off its bridge.
        kernel.state.tables[inet] = nil
        kernel.state.links.ports["tap2"] = nil
        await enforcer.checkForDrift()
        #expect(kernel.state == desired)
        var status = await enforcer.currentStatus
        #expect(status.driftRepairs == 1)
        #expect(status.lastApply?.reason == "drift check")
        // Nothing to repair: no apply, no count.
        let calls = kernel.log.count
        await enforcer.checkForDrift()
        #expect(kernel.log.count == calls)
        // A bridge of ours deleted behind our back is repaired on its link event.
        kernel.state.links.bridges[Naming.bridge(vni: 100)] = nil
        kernel.state.links.ports = [:]
        await enforcer.linkChanged(.removed(device: Naming.bridge(vni: 100)))
        #expect(kernel.state == desired)
        status = await enforcer.currentStatus
        #expect(status.driftRepairs == 2)
    }

    @Test func startingOnAKernelThatHasTheStateChangesNothing() async throws {
        let desired = try Self.state([Self.port(1), Self.port(2)])
        let kernel = MemoryKernel(state: desired, devices: ["tap1", "tap2", "eth1"])
        let enforcer = Self.enforcer(kernel)
        await enforcer.accept(.desired(desired, Self.revision(7)))
        #expect(kernel.log.isEmpty)
        let status = await enforcer.currentStatus
        #expect(status.inSync && status.applies == 0 && status.revision == Self.revision(7))
    }

    @Test func aFailedBatchIsReportedAndRetried() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "eth1"])
        let enforcer = Enforcer(
            host: "h1", source: "test", dataplane: Dataplane(kernel: kernel),
            configuration: Enforcer.Configuration(driftInterval: nil, linkSettle: .zero, maxRetryDelay: .milliseconds(50)),
            logger: Self.quiet)
        kernel.failNextBatch = "table busy"
        let desired = try Self.state([Self.port(1)])
        await enforcer.accept(.desired(desired, Self.revision(1)))
        let failed = await enforcer.currentStatus
        #expect(!failed.inSync && failed.errors == 1)
        #expect(failed.revision == nil, "a revision is in force only once applied")
        #expect(failed.healthProblem?.contains("table busy") == true)
        #expect(kernel.state.tables.isEmpty)
        // The retry comes by itself (first after 50 ms here).
        // (Polled through the actor: the kernel is only read once it's done.)
        for _ in 0..<100 where await !enforcer.currentStatus.inSync { try await Task.sleep(for: .milliseconds(20)) }
        #expect(kernel.state == desired)
        let status = await enforcer.currentStatus
        #expect(status.inSync && status.healthProblem == nil && status.lastApply?.reason == "retry")
    }

    @Test func runFollowsASource() async throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let enforcer = Self.enforcer(kernel)
        let (events, feed) = AsyncStream.makeStream(of: SourceEvent.self)
        let source = StreamSource(stream: events)
        let running = Task { await enforcer.run(source: source, linkEvents: nil) }
        let desired = try Self.state([Self.port(1), Self.port(2)])
        feed.yield(.desired(desired, Self.revision(1)))
        for _ in 0..<100 where await !enforcer.currentStatus.inSync { try await Task.sleep(for: .milliseconds(10)) }
        #expect(kernel.state == desired)
        running.cancel()
        await running.value
    }
}

/// Keeps every report, for tests.
actor RecordingReporter: StatusReporter {
    var reports: [(revision: Int64?, inSync: Bool, error: String?, sequence: Int)] = []
    func report(_ status: EnforcerStatus, sequence: Int) async {
        reports.append((status.revision?.number, status.inSync, status.lastError, sequence))
    }
}

struct StreamSource: DesiredStateSource {
    let stream: AsyncStream<SourceEvent>
    var description: String { "test stream" }
    func events() -> AsyncStream<SourceEvent> { stream }
}
