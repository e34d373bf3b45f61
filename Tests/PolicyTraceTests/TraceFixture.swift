import PolicyModel
import PolicyTrace

/// A cloud with one of everything trace must handle: a VXLAN network on two
/// hosts, a VLAN network on a trunk, a second VXLAN network reusing the
/// first one's addresses, stateful and stateless groups, remote groups and
/// CIDRs, address pairs (one with its own MAC), a port without port
/// security and a port without groups.
enum TraceFixture {
    static func mac(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n)) }
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    static func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

    static var policy: Policy {
        Policy(
            networks: [
                Network(name: "n1", segment: .vxlan(vni: 100), subnets: [prefix("10.0.0.0/24"), prefix("fd00::/64")]),
                Network(name: "n2", segment: .vxlan(vni: 200), subnets: [prefix("10.0.0.0/24")]),
                Network(name: "vl", segment: .vlan(id: 300), subnets: [prefix("10.3.0.0/24")]),
            ],
            hosts: [
                Host(name: "hv1", uplink: "eth1", vtep: ip("192.0.2.1")),
                Host(name: "hv2", uplink: "eth1", vtep: ip("192.0.2.2")),
            ],
            securityGroups: [
                SecurityGroup(name: "client", rules: [Rule(direction: .egress, description: "anything out")]),
                SecurityGroup(name: "web", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80), PortRange(8000, 8002)], description: "http"),
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .group("admin")),
                    Rule(direction: .ingress, proto: .icmp, icmp: ICMPMatch(type: 8)),
                    Rule(direction: .ingress, proto: .udp, ports: [PortRange(53)], ethertype: .ipv6),
                    Rule(direction: .ingress, proto: .number(47), remote: .cidr(prefix("198.51.100.0/24"))),
                    Rule(direction: .egress, proto: .tcp, ports: [PortRange(5432)], remote: .group("db")),
                ]),
                SecurityGroup(name: "admin", rules: [Rule(direction: .egress, proto: .tcp, ports: [PortRange(22)])]),
                SecurityGroup(name: "db", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(5432)], remote: .group("web"), description: "from web"),
                ]),
                SecurityGroup(name: "open", rules: [Rule(direction: .ingress), Rule(direction: .egress)]),
                SecurityGroup(name: "sl", stateful: false, rules: [
                    Rule(direction: .egress, proto: .udp, ports: [PortRange(53)]),
                    Rule(direction: .ingress, proto: .udp, ports: [PortRange(53)]),
                    Rule(direction: .egress, proto: .udp, ports: [PortRange(40000, 40009)]),
                    Rule(direction: .ingress, proto: .udp, ports: [PortRange(40000, 40009)]),
                ]),
            ],
            ports: [
                Port(name: "cli", host: "hv1", device: "tap-cli", network: "n1", mac: mac(1),
                     ips: [ip("10.0.0.1"), ip("fd00::1")], securityGroups: ["client"]),
                Port(name: "web", host: "hv1", device: "tap-web", network: "n1", mac: mac(2),
                     ips: [ip("10.0.0.2"), ip("fd00::2")], securityGroups: ["web"],
                     allowedAddressPairs: [AddressPair(ip: prefix("10.0.0.100/32")), AddressPair(ip: prefix("10.0.0.101/32"), mac: mac(0xaa01))]),
                Port(name: "admin", host: "hv1", device: "tap-admin", network: "n1", mac: mac(3),
                     ips: [ip("10.0.0.3")], securityGroups: ["admin", "client"]),
                Port(name: "db", host: "hv2", device: "tap-db", network: "n1", mac: mac(4),
                     ips: [ip("10.0.0.4"), ip("fd00::4")], securityGroups: ["db"]),
                Port(name: "bare", host: "hv1", device: "tap-bare", network: "n1", mac: mac(5), ips: [ip("10.0.0.5"), ip("fd00::5")]),
                Port(name: "twin", host: "hv1", device: "tap-twin", network: "n2", mac: mac(6),
                     ips: [ip("10.0.0.2")], securityGroups: ["open"]),
                Port(name: "free", host: "hv2", device: "tap-free", network: "n2", mac: mac(7),
                     ips: [ip("10.0.0.7")], portSecurity: false),
                Port(name: "sl1", host: "hv1", device: "tap-sl1", network: "n1", mac: mac(8), ips: [ip("10.0.0.8")], securityGroups: ["sl"]),
                Port(name: "sl2", host: "hv2", device: "tap-sl2", network: "n1", mac: mac(9), ips: [ip("10.0.0.9")], securityGroups: ["sl"]),
                Port(name: "v1", host: "hv1", device: "tap-v1", network: "vl", mac: mac(10), ips: [ip("10.3.0.1")], securityGroups: ["client"]),
                Port(name: "v2", host: "hv2", device: "tap-v2", network: "vl", mac: mac(11), ips: [ip("10.3.0.2")], securityGroups: ["web"]),
            ])
    }

    static func trace(
        _ from: String, _ to: String, _ probe: Probe, fromIP: String? = nil, ethertype: IPFamily? = nil, policy: Policy = policy
    ) throws -> Trace {
        var source = EndpointSpec(from)
        if let fromIP, case .port(let name, _) = source { source = .port(name, address: ip(fromIP)) }
        return try Tracer(policy: policy).trace(from: source, to: EndpointSpec(to), probe: probe, ethertype: ethertype)
    }
}

extension Trace {
    /// Every finding of the packet's steps, as text: what the assertions read.
    var findingTexts: [String] { steps.flatMap(\.findings).map(\.text) }
    var replyTexts: [String] { reply?.steps.flatMap(\.findings).map(\.text) ?? [] }
}
