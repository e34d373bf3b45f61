import HostModel
import PolicyCompiler
import PolicyModel

/// A small cloud used across the compiler tests: two VLAN networks with the
/// same subnet, one VXLAN network on two hosts, a stateless group.
enum Fixture {
    static func mac(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n)) }
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    static func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

    static var policy: Policy {
        Policy(
            networks: [
                Network(name: "blue", segment: .vlan(id: 100), subnets: [prefix("10.1.0.0/24"), prefix("fd00:1::/64")]),
                Network(name: "green", segment: .vlan(id: 200), subnets: [prefix("10.1.0.0/24")]),
                Network(name: "red", segment: .vxlan(vni: 5001), subnets: [prefix("10.9.0.0/24")]),
            ],
            hosts: [
                Host(name: "hv1", uplink: "eth1", vtep: ip("192.0.2.1")),
                Host(name: "hv2", uplink: "eth1", vtep: ip("192.0.2.2")),
                Host(name: "hv3", uplink: "eth1", vtep: ip("192.0.2.3")),
            ],
            securityGroups: [
                SecurityGroup(name: "web", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80), PortRange(443)], remote: .cidr(prefix("0.0.0.0/0"))),
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .group("bastion")),
                    Rule(direction: .ingress, proto: .icmp, icmp: ICMPMatch(type: 8), remote: .group("web")),
                    Rule(direction: .egress),
                ]),
                SecurityGroup(name: "bastion", rules: [Rule(direction: .egress, proto: .tcp, ports: [PortRange(22)])]),
                SecurityGroup(name: "db", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(5432)], remote: .group("web")),
                ]),
                SecurityGroup(name: "cluster", stateful: false, rules: [
                    Rule(direction: .ingress, proto: .udp, ports: [PortRange(8000, 8100)], remote: .group("cluster")),
                    Rule(direction: .egress, proto: .udp, ports: [PortRange(8000, 8100)], remote: .group("cluster")),
                ]),
            ],
            ports: [
                Port(name: "vm1", host: "hv1", device: "tap-vm1", network: "blue", mac: mac(1),
                     ips: [ip("10.1.0.11"), ip("fd00:1::11")], securityGroups: ["web"],
                     allowedAddressPairs: [AddressPair(ip: prefix("10.1.0.100/32"))]),
                Port(name: "vm2", host: "hv1", device: "tap-vm2", network: "green", mac: mac(2),
                     ips: [ip("10.1.0.11")], securityGroups: ["db"]),
                Port(name: "bastion1", host: "hv2", device: "tap-b1", network: "blue", mac: mac(3),
                     ips: [ip("10.1.0.5")], securityGroups: ["bastion"]),
                Port(name: "c1", host: "hv1", device: "tap-c1", network: "red", mac: mac(4),
                     ips: [ip("10.9.0.1")], securityGroups: ["cluster"]),
                Port(name: "c2", host: "hv2", device: "tap-c2", network: "red", mac: mac(5),
                     ips: [ip("10.9.0.2")], securityGroups: ["cluster"]),
                Port(name: "router", host: "hv2", device: "tap-r", network: "red", mac: mac(6),
                     ips: [ip("10.9.0.254")], portSecurity: false),
            ])
    }

    static func compile(_ policy: Policy = policy, host: String) throws -> HostState {
        try PolicyCompiler(policy).compile(host: host)
    }
}

extension HostState {
    var bridgeTable: NFTTable { tables[NFTTableID(.bridge, Naming.table)]! }
    var inetTable: NFTTable { tables[NFTTableID(.inet, Naming.table)]! }
}

extension NFTTable {
    func elements(_ set: String) -> [String] {
        guard let s = sets[set] else { return [] }
        return s.elements.sorted().map { NFTRenderer.element($0, keyTypes: s.definition.key) }
    }

    func rules(_ chain: String) -> [String] {
        (chains[chain]?.rules ?? []).map(NFTRenderer.rule)
    }
}
