import Foundation
import HostModel
import PolicyCompiler
import PolicyModel
import Testing

/// Policy changes and the exact operations they cost on each host
/// (Cilium-style wantAdds / wantDeletes per case).
@Suite struct DiffTests {
    static func mac(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n)) }

    static var base: Policy {
        Policy(
            networks: [
                Network(name: "net", segment: .vxlan(vni: 100), subnets: [IPPrefix("10.0.0.0/24")!]),
                Network(name: "other", segment: .vxlan(vni: 200)),
            ],
            hosts: [
                Host(name: "h1", uplink: "eth1", vtep: IPAddress("192.0.2.1")),
                Host(name: "h2", uplink: "eth1", vtep: IPAddress("192.0.2.2")),
                Host(name: "h3", uplink: "eth1", vtep: IPAddress("192.0.2.3")),
            ],
            securityGroups: [
                SecurityGroup(name: "web", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)]),
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .group("admin")),
                ]),
                SecurityGroup(name: "api", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)]),  // identical to web's rule 0
                ]),
                SecurityGroup(name: "admin", rules: [Rule(direction: .egress)]),
            ],
            ports: [
                Port(name: "w1", host: "h1", device: "tap-w1", network: "net", mac: mac(1), ips: [IPAddress("10.0.0.1")!], securityGroups: ["web", "api"]),
                Port(name: "a1", host: "h2", device: "tap-a1", network: "net", mac: mac(2), ips: [IPAddress("10.0.0.2")!], securityGroups: ["admin"]),
                Port(name: "o1", host: "h3", device: "tap-o1", network: "other", mac: mac(3), ips: [IPAddress("10.0.0.3")!]),
            ])
    }

    func delta(_ old: Policy, _ new: Policy, host: String) throws -> HostDelta {
        diff(try PolicyCompiler(old).compile(host: host), try PolicyCompiler(new).compile(host: host))
    }

    @Test func sameStateHasEmptyDiff() throws {
        for host in ["h1", "h2", "h3"] {
            #expect(try delta(Self.base, Self.base, host: host).isEmpty)
        }
    }

    @Test func joiningARemoteGroupChangesOnlySetElementsOnReferencingHosts() throws {
        var new = Self.base
        new.ports.append(Port(name: "a2", host: "h3", device: "tap-a2", network: "other", mac: Self.mac(4), ips: [IPAddress("10.0.0.9")!], securityGroups: ["admin"]))
        let h1 = try delta(Self.base, new, host: "h1")
        let table = NFTTableID(.inet, Naming.table)
        // h1 has web, whose rules reference admin: one element, nothing else.
        let address = IPRange(IPPrefix("10.0.0.9/32")!)
        #expect(h1 == HostDelta(nft: [.addElements(table, set: "remote/admin/ipv4", [NFTElement([.address(address)])])]))
        // h2 has admin members but nothing references admin there.
        #expect(try delta(Self.base, new, host: "h2").isEmpty)
    }

    @Test func ruleChangeReplacesOneChainOnHostsWithMembersOnly() throws {
        var new = Self.base
        new.securityGroups[0].rules[0].ports = [PortRange(8080)]
        let table = NFTTableID(.inet, Naming.table)
        let h1 = try delta(Self.base, new, host: "h1")
        #expect(h1.links.isEmpty)
        #expect(h1.nft.count == 1)
        guard case .replaceRules(table, chain: "sg/web/ingress", let rules)? = h1.nft.first else {
            Issue.record("expected one chain replaced, got \(h1.nft)")
            return
        }
        #expect(rules.count == 4)  // two rules, tcp 80 (v4, v6) became 8080; ssh from admin (v4, v6)
        #expect(try delta(Self.base, new, host: "h2").isEmpty)
        #expect(try delta(Self.base, new, host: "h3").isEmpty)
    }

    @Test func identicalRulesInTwoGroupsStayIndependent() throws {
        var new = Self.base
        new.securityGroups[1].rules.removeAll()  // api drops its copy of "tcp 80"
        let after = try PolicyCompiler(new).compile(host: "h1")
        let h1 = try delta(Self.base, new, host: "h1")
        #expect(h1.nft.map { op -> String in
            if case .replaceRules(_, let chain, _) = op { return chain } else { return "\(op)" }
        } == ["sg/api/ingress"])
        let web = after.tables[NFTTableID(.inet, Naming.table)]!.chains["sg/web/ingress"]!
        #expect(web.rules.map(NFTRenderer.rule).filter { $0.contains("th dport 80 ") }.count == 2)
    }

    @Test func firstPortOfAVXLANNetworkOnAHostAddsFloodEntriesElsewhere() throws {
        var new = Self.base
        new.ports.append(Port(name: "w2", host: "h3", device: "tap-w2", network: "net", mac: Self.mac(5), ips: [IPAddress("10.0.0.5")!], securityGroups: ["web"]))
        let h2 = try delta(Self.base, new, host: "h2")
        #expect(h2.links == [.addFlood(FloodEntry(device: "sgvx-100", remote: IPAddress("192.0.2.3")!))])
        let h3 = try delta(Self.base, new, host: "h3")
        #expect(h3.links.contains(.addBridge(Bridge(name: "sgbr-100", vlanFiltering: false))))
        #expect(h3.links.contains(.attachPort(device: "tap-w2", BridgePort(bridge: "sgbr-100"))))
        #expect(h3.links.last == .attachPort(device: "tap-w2", BridgePort(bridge: "sgbr-100")))
    }

    @Test func removingAPortDetachesItAndDropsItsElements() throws {
        var new = Self.base
        new.ports.removeAll { $0.name == "o1" }
        let h3 = try delta(Self.base, new, host: "h3")
        #expect(h3.links == [.detachPort(device: "tap-o1"), .deleteBridge("sgbr-200")])
        #expect(h3.nft == [.deleteTable(NFTTableID(.bridge, Naming.table)), .deleteTable(NFTTableID(.inet, Naming.table))])
    }

    @Test func applyingTheDiffGivesTheDesiredState() throws {
        var new = Self.base
        new.ports[0].securityGroups = ["admin"]
        new.securityGroups[2].rules.append(Rule(direction: .ingress, proto: .icmp))
        for host in ["h1", "h2", "h3"] {
            let a = try PolicyCompiler(Self.base).compile(host: host)
            let b = try PolicyCompiler(new).compile(host: host)
            #expect(try a.applying(diff(a, b)) == b)
            #expect(try b.applying(diff(b, a)) == a)
        }
    }
}

/// etcd holds encoded host states and publishers compare their digests, so
/// equal states must encode to equal bytes in any process, whatever order
/// their sets were built in.
@Suite struct CanonicalEncodingTests {
    @Test func equalStatesEncodeToEqualBytes() throws {
        let id = NFTTableID(.inet, "t")
        func state(_ order: [Int], capacity: Int) -> HostState {
            var elements = Set<NFTElement>(minimumCapacity: capacity)
            for i in order { elements.insert(NFTElement([.integer(UInt32(i))], data: .mark(UInt32(i)))) }
            var floods = Set<FloodEntry>(minimumCapacity: capacity)
            for i in order { floods.insert(FloodEntry(device: "sgvx-1", remote: IPAddress("192.0.2.\(i % 250 + 1)")!)) }
            var vlans = Set<UInt16>(minimumCapacity: capacity)
            for i in order { vlans.insert(UInt16(i % 4000 + 1)) }
            let table = NFTTable(id: id, sets: [NFTSet(name: "s", key: [.mark], data: .mark, elements: elements)])
            return HostState(
                links: LinkState(floods: floods, trunks: ["eth1": Trunk(bridge: "sgbr-vlan", vlans: vlans)]), tables: [table])
        }
        let a = state(Array(0..<500), capacity: 500)
        let b = state(Array((0..<500).reversed()), capacity: 4096)
        #expect(a == b)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(a) == encoder.encode(b))
        #expect(try JSONDecoder().decode(HostState.self, from: encoder.encode(a)) == a)
    }
}
