import Dataplane
import HostModel
import PolicyCompiler
import PolicyModel
import Testing

/// The dataplane's ordering and failure rules, against the in-memory kernel.
@Suite struct DataplaneTests {
    static func mac(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n)) }

    static func policy(ports: [Port]) -> Policy {
        Policy(
            networks: [Network(name: "net", segment: .vxlan(vni: 100)), Network(name: "lan", segment: .vlan(id: 10))],
            hosts: [Host(name: "h1", uplink: "eth1", vtep: IPAddress("192.0.2.1")), Host(name: "h2", uplink: "eth1", vtep: IPAddress("192.0.2.2"))],
            securityGroups: [SecurityGroup(name: "web", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)])])],
            ports: ports)
    }

    static let vm1 = Port(name: "vm1", host: "h1", device: "tap1", network: "net", mac: mac(1), ips: [IPAddress("10.0.0.1")!], securityGroups: ["web"])
    static let vm2 = Port(name: "vm2", host: "h1", device: "tap2", network: "net", mac: mac(2), ips: [IPAddress("10.0.0.2")!], securityGroups: ["web"])

    func desired(_ ports: [Port]) throws -> HostState {
        try PolicyCompiler(Self.policy(ports: ports)).compile(host: "h1")
    }

    @Test func firstApplyFiltersBeforeAnyPortJoinsABridge() throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        let target = try desired([Self.vm1, Self.vm2])
        try dataplane.apply(try dataplane.plan(target))
        #expect(kernel.state == target)
        let batch = try #require(kernel.log.firstIndex { $0.hasPrefix("nft batch") })
        let firstAttach = try #require(kernel.log.firstIndex { $0.contains("attachPort") })
        #expect(batch < firstAttach)
        #expect(kernel.log.last?.contains("attachPort") == true)
    }

    @Test func secondApplyChangesNothing() throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        let target = try desired([Self.vm1, Self.vm2])
        try dataplane.apply(try dataplane.plan(target))
        let logged = kernel.log.count
        let again = try dataplane.plan(target)
        #expect(again.isEmpty)
        try dataplane.apply(again)
        #expect(kernel.log.count == logged)
    }

    @Test func tablesAreNotDumpedAgainWhileTheGenerationIsTheOneWritten() throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        try dataplane.apply(try dataplane.plan(try desired([Self.vm1])))
        let reads = kernel.tableReads
        // vm2 boots: planned against the tables the last batch wrote.
        let boot = try dataplane.plan(try desired([Self.vm1, Self.vm2]))
        #expect(kernel.tableReads == reads)
        #expect(!boot.delta.nft.isEmpty)
        try dataplane.apply(boot)
        #expect(kernel.state == (try desired([Self.vm1, Self.vm2])))
        #expect(try dataplane.plan(try desired([Self.vm1, Self.vm2])).isEmpty)
        #expect(kernel.tableReads == reads)
        // The drift check's fresh read dumps them all the same.
        #expect(try dataplane.plan(try desired([Self.vm1, Self.vm2]), freshRead: true).isEmpty)
        #expect(kernel.tableReads == reads + 1)
    }

    @Test func aCommitBehindItsBackMakesThePlanReadTheTablesAgain() throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        let target = try desired([Self.vm1, Self.vm2])
        try dataplane.apply(try dataplane.plan(target))
        // Someone deletes the inet table (another commit: a new generation).
        let inet = NFTTableID(.inet, Naming.table)
        kernel.state.tables[inet] = nil
        let reads = kernel.tableReads
        let repair = try dataplane.plan(target)
        #expect(kernel.tableReads == reads + 1)
        #expect(repair.delta.nft.contains(.addTable(inet)))
        try dataplane.apply(repair)
        #expect(kernel.state == target)
    }

    @Test func aFailedBatchForgetsTheKnownTables() throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        try dataplane.apply(try dataplane.plan(try desired([Self.vm1])))
        kernel.failNextBatch = "ENOMEM"
        #expect(throws: DataplaneError.self) { try dataplane.apply(try dataplane.plan(try desired([Self.vm1, Self.vm2]))) }
        let reads = kernel.tableReads
        try dataplane.apply(try dataplane.plan(try desired([Self.vm1, Self.vm2])))
        #expect(kernel.tableReads == reads + 1)
        #expect(kernel.state == (try desired([Self.vm1, Self.vm2])))
    }

    @Test func missingDeviceIsPendingNotAnError() throws {
        let kernel = MemoryKernel(devices: ["tap1", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        let plan = try dataplane.plan(try desired([Self.vm1, Self.vm2]))
        #expect(plan.pending == ["port device tap2 does not exist yet"])
        try dataplane.apply(plan)
        #expect(kernel.state.links.ports["tap2"] == nil)
        #expect(kernel.state.links.ports["tap1"] != nil)
        // Its filtering is in place already, keyed by the device name.
        let marks = kernel.state.tables[NFTTableID(.bridge, Naming.table)]!.sets["port_marks"]!.elements
        #expect(marks.contains { $0.key == [.ifname("tap2")] })
        // When the device appears, the next apply attaches it and nothing else.
        kernel.devices.insert("tap2")
        let next = try dataplane.plan(try desired([Self.vm1, Self.vm2]))
        #expect(next.delta == HostDelta(links: [.attachPort(device: "tap2", BridgePort(bridge: "sgbr-100"))]))
    }

    @Test func failedBatchLeavesEverythingAsItWas() throws {
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        try dataplane.apply(try dataplane.plan(try desired([Self.vm1, Self.vm2])))
        let before = kernel.state
        kernel.failNextBatch = "EPERM"
        let plan = try dataplane.plan(try desired([Self.vm1]))  // vm2 leaves: detach first, then the batch
        #expect(throws: DataplaneError.self) { try dataplane.apply(plan) }
        #expect(kernel.state == before)
    }

    @Test func policyNeedingWhatTheKernelLacksIsRefusedBeforeAnyChange() throws {
        let kernel = MemoryKernel(
            devices: ["tapv", "eth1"],
            capabilities: KernelCapabilities(bridgeNetfilter: true, vlanFiltering: false, vlanDevices: false, vxlan: true, bridgeConntrack: false))
        let dataplane = Dataplane(kernel: kernel)
        let vlanPort = Port(name: "v", host: "h1", device: "tapv", network: "lan", mac: Self.mac(3), ips: [IPAddress("10.1.0.1")!])
        #expect {
            try dataplane.plan(try desired([vlanPort]))
        } throws: { error in
            "\(error)".contains("CONFIG_BRIDGE_VLAN_FILTERING")
        }
        #expect(kernel.log.isEmpty)
    }

    @Test func vlanNetworksNeedBridgeNetfilterForTaggedFrames() throws {
        let kernel = MemoryKernel(
            devices: ["tapv", "eth1"],
            capabilities: KernelCapabilities(
                bridgeNetfilter: true, bridgeNetfilterVLAN: false, vlanFiltering: true, vlanDevices: true, vxlan: true,
                bridgeConntrack: true))
        let vlanPort = Port(name: "v", host: "h1", device: "tapv", network: "lan", mac: Self.mac(3), ips: [IPAddress("10.1.0.1")!])
        #expect {
            try Dataplane(kernel: kernel).plan(try desired([vlanPort]))
        } throws: { error in
            "\(error)".contains("bridge-nf-filter-vlan-tagged=1")
        }
        // VXLAN-only hosts don't need it.
        _ = try Dataplane(kernel: kernel).plan(try desired([Self.vm1]))
        #expect(kernel.log.isEmpty)
    }

    @Test func withoutBridgeNetfilterNothingIsApplied() throws {
        let kernel = MemoryKernel(
            devices: ["tap1"],
            capabilities: KernelCapabilities(bridgeNetfilter: false, vlanFiltering: true, vlanDevices: true, vxlan: true, bridgeConntrack: false))
        #expect {
            try Dataplane(kernel: kernel).plan(try desired([Self.vm1]))
        } throws: { error in
            "\(error)".contains("bridge-nf-call-iptables")
        }
    }
}

/// When established connections must be re-checked, and when not.
@Suite struct RevocationTests {
    func plan(from old: [Port], to new: [Port], groups: [SecurityGroup]? = nil) throws -> (Plan, MemoryKernel) {
        var before = DataplaneTests.policy(ports: old)
        before.securityGroups.append(SecurityGroup(name: "db", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(5432)], remote: .group("web"))]))
        var after = before
        after.ports = new
        if let groups { after.securityGroups = groups }
        let kernel = MemoryKernel(devices: ["tap1", "tap2", "tap3", "eth1"])
        let dataplane = Dataplane(kernel: kernel)
        try dataplane.apply(try dataplane.plan(try PolicyCompiler(before).compile(host: "h1")))
        return (try dataplane.plan(try PolicyCompiler(after).compile(host: "h1")), kernel)
    }

    static let db = Port(name: "db1", host: "h1", device: "tap3", network: "net", mac: DataplaneTests.mac(3), ips: [IPAddress("10.0.0.3")!], securityGroups: ["db"])

    @Test func aNewVMRevokesNothing() throws {
        let (plan, _) = try plan(from: [DataplaneTests.vm1, Self.db], to: [DataplaneTests.vm1, DataplaneTests.vm2, Self.db])
        #expect(!plan.isEmpty)
        #expect(plan.conntrackZones.isEmpty)
    }

    @Test func aMemberLeavingARemoteGroupRevokesItsConnections() throws {
        var vm1 = DataplaneTests.vm1
        vm1.securityGroups = []
        let (plan, kernel) = try plan(from: [DataplaneTests.vm1, Self.db], to: [vm1, Self.db])
        #expect(plan.conntrackZones == [4196])  // vni 100
        try Dataplane(kernel: kernel).apply(plan)
        #expect(kernel.log.contains("conntrack delete zones 4196"))
    }

    @Test func removingARuleRevokesAddingOneDoesNot() throws {
        let ports = [DataplaneTests.vm1, Self.db]
        let fewer = [SecurityGroup(name: "web", rules: []), SecurityGroup(name: "db", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(5432)], remote: .group("web"))])]
        #expect(try plan(from: ports, to: ports, groups: fewer).0.conntrackZones == [4196])
        let more = [
            SecurityGroup(name: "web", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)]), Rule(direction: .ingress, proto: .udp)]),
            SecurityGroup(name: "db", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(5432)], remote: .group("web"))]),
        ]
        let (added, _) = try plan(from: ports, to: ports, groups: more)
        #expect(!added.isEmpty)
        #expect(added.conntrackZones.isEmpty)
    }
}
