import HostModel
import PlanText
import PolicyCompiler
import PolicyModel

/// Two hosts on one VXLAN network: vm1 (web) and vm2 (client) on hv1, vm3
/// (web) on hv2. Group web lets its members ping each other and lets
/// bastion members in over SSH, so its members' addresses are a set.
enum PlanFixture {
    static func mac(_ n: Int) -> MACAddress { MACAddress(rawValue: 0x5254_0000_0000 | UInt64(n)) }
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    static var policy: Policy {
        Policy(
            networks: [Network(name: "blue", segment: .vxlan(vni: 5001), subnets: [IPPrefix("10.0.0.0/24")!])],
            hosts: [
                Host(name: "hv1", uplink: "eth1", vtep: ip("192.0.2.1")),
                Host(name: "hv2", uplink: "eth1", vtep: ip("192.0.2.2")),
            ],
            securityGroups: [
                SecurityGroup(name: "web", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80)]),
                    Rule(direction: .ingress, proto: .icmp, icmp: ICMPMatch(type: 8), remote: .group("web")),
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .group("bastion")),
                ]),
                SecurityGroup(name: "client", rules: [Rule(direction: .egress)]),
                SecurityGroup(name: "bastion", rules: [Rule(direction: .egress, proto: .tcp, ports: [PortRange(22)])]),
            ],
            ports: [
                Port(name: "vm1", host: "hv1", device: "tap-vm1", network: "blue", mac: mac(1), ips: [ip("10.0.0.1")], securityGroups: ["web"]),
                Port(name: "vm2", host: "hv1", device: "tap-vm2", network: "blue", mac: mac(2), ips: [ip("10.0.0.2")], securityGroups: ["client"]),
                Port(name: "vm3", host: "hv2", device: "tap-vm3", network: "blue", mac: mac(3), ips: [ip("10.0.0.3")], securityGroups: ["web"]),
            ])
    }

    /// The same policy after `change`.
    static func policy(_ change: (inout Policy) -> Void) -> Policy {
        var policy = policy
        change(&policy)
        return policy
    }

    static func setGroups(_ port: String, _ groups: [String]) -> (inout Policy) -> Void {
        { policy in policy.ports[policy.ports.firstIndex { $0.name == port }!].securityGroups = groups }
    }

    /// The view of going from `before` (as the kernel has it) to `after` on hv1.
    static func view(from before: Policy?, to after: Policy, knowingObserved: Bool = true) throws -> PlanView {
        let observed = try before.map { try PolicyCompiler($0).compile(host: "hv1") } ?? HostState()
        let desired = try PolicyCompiler(after).compile(host: "hv1")
        return PlanView(
            host: "hv1", delta: diff(observed, desired), policy: after, desired: desired,
            observed: knowingObserved ? observed : nil)
    }

    /// `count` more ports on hv1 in group web: a scale-out.
    static func scaledOut(_ count: Int) -> Policy {
        policy { policy in
            for n in 1...count {
                policy.ports.append(Port(
                    name: "worker-\(n)", host: "hv1", device: "tap-w\(n)", network: "blue", mac: mac(200 + n),
                    ips: [ip("10.0.0.\(200 + n)")], securityGroups: ["web"]))
            }
        }
    }

    /// `count` more ports on hv1, each in its own group that names web as remote.
    static func crowded(_ count: Int) -> Policy {
        policy { policy in
            for n in 0..<count {
                policy.securityGroups.append(SecurityGroup(name: "g\(n)", rules: [
                    Rule(direction: .ingress, proto: .tcp, ports: [PortRange(UInt16(8000 + n))], remote: .group("web"))
                ]))
                policy.ports.append(Port(
                    name: "extra\(n)", host: "hv1", device: "tap-x\(n)", network: "blue", mac: mac(100 + n),
                    ips: [ip("10.0.0.\(100 + n)")], securityGroups: ["g\(n)"]))
            }
        }
    }
}

extension PlanView {
    func section(_ subject: PlanSubject) -> PlanSection? { sections.first { $0.subject == subject } }
}

extension PlanSection {
    /// The items as the plan prints them, without column padding.
    var texts: [String] {
        items.map { item in
            ([item.change.rawValue, item.object, item.place, item.value].filter { !$0.isEmpty } + (item.note.map { ["(\($0))"] } ?? []))
                .joined(separator: " ")
        }
    }
}
