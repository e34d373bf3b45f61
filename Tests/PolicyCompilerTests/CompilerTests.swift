import PolicyModel
import Testing
@testable import HostModel

@testable import PolicyCompiler

/// Compilation of each semantic point of policy-format.md.
@Suite struct CompilerTests {
    let hv1: HostState
    let hv2: HostState

    init() throws {
        hv1 = try Fixture.compile(host: "hv1")
        hv2 = try Fixture.compile(host: "hv2")
    }

    // MARK: 1. L2 isolation

    @Test func vlanNetworksShareTheVLANAwareBridgeWithTheirOwnPVID() {
        #expect(hv1.links.bridges["sgbr-vlan"] == Bridge(name: "sgbr-vlan", vlanFiltering: true))
        #expect(hv1.links.ports["tap-vm1"] == BridgePort(bridge: "sgbr-vlan", pvid: 100))
        #expect(hv1.links.ports["tap-vm2"] == BridgePort(bridge: "sgbr-vlan", pvid: 200))
    }

    @Test func trunkCarriesExactlyTheVLANsWithPortsOnTheHost() {
        #expect(hv1.links.trunks["eth1"] == Trunk(bridge: "sgbr-vlan", vlans: [100, 200]))
        #expect(hv2.links.trunks["eth1"] == Trunk(bridge: "sgbr-vlan", vlans: [100]))
    }

    @Test func vxlanNetworkGetsBridgeTunnelAndFloodToOtherHostsVTEPs() {
        #expect(hv1.links.bridges["sgbr-5001"] == Bridge(name: "sgbr-5001", vlanFiltering: false))
        #expect(hv1.links.vxlans["sgvx-5001"] == VXLANDevice(
            name: "sgvx-5001", vni: 5001, local: IPAddress("192.0.2.1"), underlay: "eth1", bridge: "sgbr-5001"))
        #expect(hv1.links.floods == [FloodEntry(device: "sgvx-5001", remote: IPAddress("192.0.2.2")!)])
        #expect(hv1.links.ports["tap-c1"] == BridgePort(bridge: "sgbr-5001"))
    }

    @Test func vxlanNetworkOnOneHostNeedsNoTunnel() throws {
        var policy = Fixture.policy
        policy.ports.removeAll { $0.host == "hv2" && $0.network == "red" }
        let state = try Fixture.compile(policy, host: "hv1")
        #expect(state.links.vxlans.isEmpty)
        #expect(state.links.floods.isEmpty)
        #expect(state.links.bridges["sgbr-5001"] != nil)
    }

    @Test func identicalSubnetsGetDistinctConntrackZones() {
        let zones = hv1.inetTable.elements("zones")
        #expect(zones == ["0x00000064 : 100", "0x000000c8 : 200", "0x00002389 : 9097"])
    }

    @Test func framesFromTunnelsAndTrunkGetTheirNetworksZone() {
        let marks = hv1.bridgeTable.elements("port_marks")
        // Zone of red, no slot, and untracked unless sent to a stateful port.
        #expect(marks.contains(#""sgvx-5001" : 0x00012389"#))
        #expect(marks.contains(#""eth1" : 0x00000000"#))
        #expect(hv1.bridgeTable.elements("vlan_zones") == ["100 : 0x00010064", "200 : 0x000100c8"])
        #expect(hv1.bridgeTable.elements("our_ports") == marks.map { String($0.prefix { $0 != " " }) }.sorted())
        #expect(hv1.bridgeTable.rules("prerouting") == [
            #"iifname != @our_ports accept comment "not a port of ours""#,
            "meta mark set iifname map @port_marks",
            // After the trunk's frames got their zone: the lookup is keyed on it.
            #"iifname "eth1" ether type vlan meta mark set vlan id map @vlan_zones"#,
            #"meta mark & 0x0000ffff . ether daddr @stateful_macs meta mark set meta mark & 0xfffeffff comment "to a stateful port: tracked""#,
            "iifname @secured_ports goto port-security",
        ])
    }

    // MARK: 2. Port security

    @Test func allowedSourcesArePerPortMACAndAddress() {
        let v4 = hv1.bridgeTable.elements("allowed_ipv4")
        #expect(v4.contains(#""tap-vm1" . 52:54:00:00:00:01 . 10.1.0.11"#))
        #expect(v4.contains(#""tap-vm1" . 52:54:00:00:00:01 . 10.1.0.100"#))
        let v6 = hv1.bridgeTable.elements("allowed_ipv6")
        #expect(v6.contains(#""tap-vm1" . 52:54:00:00:00:01 . fd00:1::11"#))
        // The EUI-64 link-local address of the port's MAC.
        #expect(v6.contains(#""tap-vm1" . 52:54:00:00:00:01 . fe80::5054:ff:fe00:1"#))
        #expect(hv1.bridgeTable.elements("allowed_macs").contains(#""tap-vm1" . 52:54:00:00:00:01"#))
    }

    @Test func addressPairWithItsOwnMACIsAllowedOnlyWithThatMAC() throws {
        var policy = Fixture.policy
        policy.ports[0].allowedAddressPairs = [AddressPair(ip: IPPrefix("10.1.0.96/28")!, mac: Fixture.mac(0x99))]
        let table = try Fixture.compile(policy, host: "hv1").bridgeTable
        #expect(table.elements("allowed_macs").contains(#""tap-vm1" . 52:54:00:00:00:99"#))
        #expect(table.elements("allowed_ipv4_prefixes").contains(#""tap-vm1" . 52:54:00:00:00:99 . 10.1.0.96/28"#))
        #expect(!table.elements("allowed_ipv4_prefixes").contains(#""tap-vm1" . 52:54:00:00:00:01 . 10.1.0.96/28"#))
    }

    @Test func prefixesGoToTheIntervalSetMergedAndSingleAddressesToTheHashSet() throws {
        var policy = Fixture.policy
        policy.ports[0].allowedAddressPairs = [
            AddressPair(ip: IPPrefix("10.1.0.0/28")!), AddressPair(ip: IPPrefix("10.1.0.8/29")!),  // overlapping
            AddressPair(ip: IPPrefix("10.1.0.200/32")!),
        ]
        let table = try Fixture.compile(policy, host: "hv1").bridgeTable
        #expect(table.sets["allowed_ipv4"]?.definition.interval == false)
        #expect(table.sets["allowed_ipv4_prefixes"]?.definition.interval == true)
        #expect(table.elements("allowed_ipv4_prefixes").filter { $0.hasPrefix(#""tap-vm1""#) } == [#""tap-vm1" . 52:54:00:00:00:01 . 10.1.0.0/28"#])
        #expect(table.elements("allowed_ipv4").filter { $0.hasPrefix(#""tap-vm1""#) } == [
            #""tap-vm1" . 52:54:00:00:00:01 . 10.1.0.11"#, #""tap-vm1" . 52:54:00:00:00:01 . 10.1.0.200"#,
        ])
    }

    @Test func spoofingChecksDropEverythingElse() {
        let table = hv1.bridgeTable
        #expect(table.rules("port-security") == [
            #"iifname . ether saddr != @allowed_macs counter drop comment "source MAC not the port's""#,
            "ether type arp goto port-security-arp",
            "ether type ip goto port-security-ipv4",
            "ether type ip6 goto port-security-ipv6",
            #"counter drop comment "only IPv4, IPv6 and ARP""#,
        ])
        #expect(table.rules("port-security-ipv4").first == #"meta l4proto udp th sport 67 counter drop comment "DHCP server reply""#)
        #expect(table.rules("port-security-ipv6").prefix(2) == [
            #"meta l4proto udp th sport 547 counter drop comment "DHCPv6 server reply""#,
            #"meta l4proto ipv6-icmp icmpv6 type { 134, 137 } counter drop comment "router advertisement or redirect""#,
        ])
        #expect(table.rules("port-security-arp").first == "ether type arp iifname . arp saddr ether . arp saddr ip @allowed_ipv4 accept")
    }

    // MARK: 3. Filtering

    @Test func eachPortDispatchesToItsOwnChainWhichChecksItsProfileThenDropsAndCounts() throws {
        let slots = try #require(StableAllocator.slots(for: ["c1", "vm1", "vm2"]))
        let egress = hv1.inetTable.elements("egress_ports")
        #expect(egress.contains("\(NFTRenderer.hex(PacketMark.sourceKey(slot: slots["vm1"]!))) : goto port/tap-vm1/egress"))
        let ingress = hv1.inetTable.elements("ingress_ports")
        #expect(ingress.contains("\(NFTRenderer.hex(PacketMark.destination(slot: slots["vm2"]!))) : goto port/tap-vm2/ingress"))
        #expect(hv1.inetTable.rules("port/tap-vm2/ingress") == [
            "jump profile/db/ingress",
            #"counter drop comment "no rule of the port's groups allows it""#,
        ])
        #expect(hv1.inetTable.chains["port/tap-vm2/ingress"]?.comment == "port vm2")
        #expect(hv1.inetTable.chains.keys.filter { $0.hasPrefix("port/") }.count == 6)
        let marks = hv1.bridgeTable.elements("port_marks")
        #expect(marks.contains(#""tap-vm1" : \#(NFTRenderer.hex(PacketMark.source(slot: slots["vm1"], untracked: false, zone: 100)))"#))
    }

    @Test func profileChainChecksStateThenAlwaysAllowedThenGroupsAndReturnsTheRest() {
        #expect(hv1.inetTable.rules("profile/web/ingress") == [
            #"ct state invalid counter drop comment "invalid""#,
            "ct state established,related accept",
            "jump always-ingress",
            "jump sg/web/ingress",
        ])
    }

    @Test func groupRulesCountWhatTheyAccept() {
        #expect(hv1.inetTable.chains["sg/web/ingress"]!.rules.allSatisfy { $0.statements == [.counter] && $0.verdict == .accept })
    }

    @Test func aLoggedPortLogsItsDropsRateLimitedUnderItsNameAndOnlyItsOwnChainsChange() throws {
        var policy = Fixture.policy
        let index = try #require(policy.ports.firstIndex { $0.name == "vm1" })
        policy.ports[index].log = true
        let logged = try Fixture.compile(policy, host: "hv1")
        #expect(logged.inetTable.rules("port/tap-vm1/egress") == [
            "jump profile/web/egress",
            #"limit rate 10/second burst 20 packets log prefix "sg drop egress vm1" group 2718"#,
            #"counter drop comment "no rule of the port's groups allows it""#,
        ])
        let changed = logged.inetTable.chains.filter { hv1.inetTable.chains[$0.key] != $0.value }.keys.sorted()
        #expect(changed == ["port/tap-vm1/egress", "port/tap-vm1/ingress"])
        #expect(logged.bridgeTable == hv1.bridgeTable)
    }

    @Test func onlyGroupsWithMembersOnTheHostGetChains() {
        let chains = Set(hv1.inetTable.chains.keys.filter { $0.hasPrefix("sg/") })
        #expect(chains == ["sg/web/ingress", "sg/web/egress", "sg/db/ingress", "sg/db/egress", "sg/cluster/ingress", "sg/cluster/egress"])
        let hv2Chains = Set(hv2.inetTable.chains.keys.filter { $0.hasPrefix("sg/") })
        #expect(hv2Chains == ["sg/bastion/ingress", "sg/bastion/egress", "sg/cluster/ingress", "sg/cluster/egress"])
    }

    @Test func portWithoutGroupsGetsOnlyTheAlwaysAllowedTraffic() throws {
        var policy = Fixture.policy
        policy.ports[1].securityGroups = []
        let table = try Fixture.compile(policy, host: "hv1").inetTable
        #expect(table.rules("profile/ingress") == [
            #"ct state invalid counter drop comment "invalid""#,
            "ct state established,related accept",
            "jump always-ingress",
        ])
        #expect(table.rules("always-egress") == [
            #"meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type { 131, 132, 133, 135, 136, 143 } accept comment "ND, RS, MLD""#,
            #"meta nfproto ipv4 meta l4proto udp th sport 68 th dport 67 accept comment "DHCP request""#,
            #"meta nfproto ipv6 meta l4proto udp th sport 546 th dport 547 accept comment "DHCPv6 request""#,
        ])
    }

    // MARK: 4. State

    @Test func statelessGroupSkipsConntrackBothWays() throws {
        let slots = try #require(StableAllocator.slots(for: ["c1", "vm1", "vm2"]))
        #expect(hv1.inetTable.rules("profile/cluster/egress") == ["jump always-egress", "jump sg/cluster/egress"])
        // Sent by the stateless port: the untracked bit; sent to it: not
        // cleared, as its MAC is not among the stateful ports' (which are).
        let mark = PacketMark.source(slot: slots["c1"], untracked: true, zone: 9097)
        #expect(hv1.bridgeTable.elements("port_marks").contains(#""tap-c1" : \#(NFTRenderer.hex(mark))"#))
        #expect(hv1.bridgeTable.elements("stateful_macs") == ["0x00000064 . 52:54:00:00:00:01", "0x000000c8 . 52:54:00:00:00:02"])
        #expect(hv1.inetTable.rules("raw-prerouting").contains(
            #"meta mark & 0x00010000 != 0x00000000 notrack accept comment "no stateful port at either end""#))
    }

    // MARK: 5. Remote groups

    @Test func remoteGroupSetsHoldAllMembersAddressesFromEveryHost() {
        #expect(hv1.inetTable.elements("remote/web/ipv4") == ["10.1.0.11", "10.1.0.100"])
        #expect(hv1.inetTable.elements("remote/web/ipv6") == ["fd00:1::11"])
        #expect(hv1.inetTable.elements("remote/bastion/ipv4") == ["10.1.0.5"])  // bastion1 lives on hv2
        #expect(hv1.inetTable.elements("remote/cluster/ipv4") == ["10.9.0.1-10.9.0.2"])
        // hv2's bastion group references no group: no remote/web there.
        #expect(hv2.inetTable.sets["remote/web/ipv4"] == nil)
    }

    // MARK: 6. Port security off

    @Test func portSecurityOffGetsAZoneButNoChecks() {
        let marks = hv2.bridgeTable.elements("port_marks")
        // Untracked unless sent to a stateful port: no checks of its own read the state.
        #expect(marks.contains(#""tap-r" : 0x00012389"#))
        #expect(!hv2.bridgeTable.elements("secured_ports").contains(#""tap-r""#))
        #expect(hv2.links.ports["tap-r"] == BridgePort(bridge: "sgbr-5001"))
    }

    // MARK: per host

    @Test func hostWithoutPortsNeedsNothing() throws {
        #expect(try Fixture.compile(host: "hv3") == HostState())
    }

    @Test func unknownHostIsAnErrorWithASuggestion() {
        #expect(throws: CompileError(message: #"host "hv4" is not in the policy (did you mean "hv1"?)"#)) {
            try Fixture.compile(host: "hv4")
        }
    }

    /// Debian 12's kernel (6.1) answers EINVAL to a membership test on a
    /// map, although newer kernels accept it; only plain sets may be looked up.
    @Test(arguments: ["hv1", "hv2"])
    func membershipTestsNameOnlyPlainSets(host: String) throws {
        let state = try Fixture.compile(host: host)
        for table in state.tables.values {
            for chain in table.chains.values {
                for rule in chain.rules {
                    for case .lookup(_, _, let name) in rule.matches {
                        let set = try #require(table.sets[name], "\(chain.name) looks up @\(name), which is not declared")
                        #expect(set.definition.data == nil, "\(chain.name) tests membership in the map @\(name)")
                    }
                }
            }
        }
    }

    @Test func compilationIsDeterministic() throws {
        let again = try Fixture.compile(host: "hv1")
        #expect(again == hv1)
        #expect(NFTRenderer.ruleset(again.tables.values) == NFTRenderer.ruleset(hv1.tables.values))
    }
}
