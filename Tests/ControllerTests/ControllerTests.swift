import Controller
import HostModel
import PolicyCompiler
import PolicyModel
import Testing

/// What each kind of change touches, and how invalid changes are refused.
@Suite struct ControllerTests {
    static func mac(_ n: UInt64) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | n) }

    /// Three hosts on one VXLAN network. `web` on hv1 and hv2; `db` on hv3
    /// admits `web` by remote group, so hv3 holds web's address sets.
    static let policy = Policy(
        networks: [Network(name: "net", segment: .vxlan(vni: 100), subnets: [IPPrefix("10.0.0.0/24")!])],
        hosts: (1...4).map { Host(name: "hv\($0)", uplink: "eth1", vtep: IPAddress("192.0.2.\($0)")) },
        securityGroups: [
            SecurityGroup(name: "web", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)])]),
            SecurityGroup(name: "db", rules: [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(5432)], remote: .group("web"))]),
            SecurityGroup(name: "spare"),
        ],
        ports: [
            Port(name: "web1", host: "hv1", device: "tap1", network: "net", mac: mac(1), ips: [IPAddress("10.0.0.1")!], securityGroups: ["web"]),
            Port(name: "web2", host: "hv2", device: "tap2", network: "net", mac: mac(2), ips: [IPAddress("10.0.0.2")!], securityGroups: ["web"]),
            Port(name: "db1", host: "hv3", device: "tap3", network: "net", mac: mac(3), ips: [IPAddress("10.0.0.3")!], securityGroups: ["db"]),
        ])

    @Test func ruleChangeTouchesOnlyHostsWithMembersAndOnlyThatChain() throws {
        let controller = try Controller(policy: Self.policy)
        let result = try controller.apply([
            .setGroupRules(group: "web", [Rule(direction: .ingress, proto: .tcp, ports: [PortRange(443)])])
        ])
        #expect(result.hosts == ["hv1", "hv2"])
        for delta in result.deltas.values {
            #expect(delta.links.isEmpty)
            #expect(delta.nft.count == 1)
            guard case .replaceRules(_, let chain, _) = delta.nft.first else {
                Issue.record("expected one chain's rules replaced, got \(delta.nft)")
                continue
            }
            #expect(chain == "sg/web/ingress")
        }
    }

    @Test func portJoiningAGroupTouchesItsHostAndOnlySetElementsWhereTheGroupIsReferenced() throws {
        var policy = Self.policy
        policy.ports.append(Port(name: "app1", host: "hv4", device: "tap4", network: "net", mac: Self.mac(4), ips: [IPAddress("10.0.0.4")!], securityGroups: ["spare"]))
        let controller = try Controller(policy: policy)
        let result = try controller.apply([.setPortGroups(port: "app1", ["spare", "web"])])
        #expect(result.hosts == ["hv3", "hv4"])
        let inet = NFTTableID(.inet, Naming.table)
        #expect(result.deltas["hv3"] == HostDelta(nft: [.addElements(inet, set: "remote/web/ipv4", [NFTElement([.address(IPRange(IPPrefix("10.0.0.4/32")!))])])]))
    }

    @Test func unrelatedHostsGetNothingWhenAVMBoots() throws {
        let controller = try Controller(policy: Self.policy)
        let result = try controller.apply([
            .setPort(Port(name: "web3", host: "hv1", device: "tap9", network: "net", mac: Self.mac(9), ips: [IPAddress("10.0.0.9")!], securityGroups: ["web"]))
        ])
        // hv1 gets the port; hv3 the new address in web's set; hv2 nothing
        // (the network was already on hv1, so no tunnel changes).
        #expect(result.hosts == ["hv1", "hv3"])
    }

    @Test func firstPortOfANetworkOnAHostAddsTunnelsOnTheNetworksOtherHosts() throws {
        let controller = try Controller(policy: Self.policy)
        let result = try controller.apply([
            .setPort(Port(name: "x", host: "hv4", device: "tap4", network: "net", mac: Self.mac(4), ips: [IPAddress("10.0.0.4")!]))
        ])
        #expect(result.hosts == ["hv1", "hv2", "hv3", "hv4"])
        #expect(result.deltas["hv1"] == HostDelta(links: [.addFlood(FloodEntry(device: "sgvx-100", remote: IPAddress("192.0.2.4")!))]))
    }

    @Test func invalidChangesAreRefusedWithTheirPathAndChangeNothing() throws {
        let controller = try Controller(policy: Self.policy)
        let before = controller.policy
        let clash = Port(name: "web3", host: "hv1", device: "tap1", network: "net", mac: Self.mac(1), ips: [IPAddress("10.0.0.2")!, IPAddress("10.9.0.1")!], securityGroups: ["wbe"])
        #expect {
            _ = try controller.apply([.removePort("db1"), .setPort(clash)])
        } throws: { error in
            let text = "\(error)"
            return text.contains(#"changes[1] (port "web3").device: device "tap1" on host "hv1" is already used by port "web1""#)
                && text.contains(#"changes[1] (port "web3").mac: MAC 52:54:00:00:00:01 is already used on network "net" by port "web1""#)
                && text.contains(#"changes[1] (port "web3").ips[0]: IP 10.0.0.2 is already used on network "net" by port "web2""#)
                && text.contains(#"changes[1] (port "web3").ips[1]: IP 10.9.0.1 is outside the subnets of network "net""#)
                && text.contains(#"changes[1] (port "web3").securityGroups[0]: unknown security group "wbe" (did you mean "web"?)"#)
        }
        #expect(controller.policy == before)
        #expect {
            _ = try controller.apply([.removeGroup("web")])
        } throws: { error in
            "\(error)".contains(#"changes[0] (security group "web"): still has members"#)
        }
        #expect(controller.policy == before)
    }

    @Test func noChangeGivesNoDeltas() throws {
        let controller = try Controller(policy: Self.policy)
        #expect(controller.update(to: Self.policy).deltas.isEmpty)
        #expect(try controller.apply([.setPortGroups(port: "web1", ["web"])]).deltas.isEmpty)
    }
}
