import PolicyModel

/// Random changes of the kinds a cloud sees (VMs booting, going away,
/// migrating, joining groups; rules changing; address pairs added), for
/// property tests and benchmarks. A change may leave the policy invalid
/// (say, a duplicate device): callers check.
public enum PolicyMutator {
    public static func mutate(_ policy: inout Policy, using rng: inout SplitMix64) {
        guard !policy.ports.isEmpty, !policy.securityGroups.isEmpty else { return }
        let p = rng.below(policy.ports.count)
        let g = rng.below(policy.securityGroups.count)
        switch rng.below(9) {
        case 0:  // a VM boots: a new port like an existing one, on some host
            var port = policy.ports[p]
            let n = policy.ports.count + rng.below(1_000_000)
            port.name = "new\(n)"
            port.device = "tapn\(n % 100_000)"
            port.host = rng.pick(policy.hosts).name
            port.mac = MACAddress(rawValue: 0x0266_0000_0000 | UInt64(n))
            port.ips = []
            port.allowedAddressPairs = [AddressPair(ip: IPPrefix(host: .v4(IPv4Address(rawValue: 0x6440_0000 | UInt32(n & 0xffff)))))]
            policy.ports.append(port)
        case 1:  // a VM goes away
            policy.ports.remove(at: p)
        case 2:  // a port joins or leaves groups of its kind
            let port = policy.ports[p]
            guard port.portSecurity else { return }
            let stateful = port.securityGroups.first.map { name in policy.securityGroups.first { $0.name == name }?.stateful ?? true } ?? true
            let candidates = policy.securityGroups.filter { $0.stateful == stateful }.map(\.name)
            policy.ports[p].securityGroups = Array(Set((0..<rng.below(3)).map { _ in rng.pick(candidates) })).sorted()
        case 3:  // a group loses a rule
            if !policy.securityGroups[g].rules.isEmpty {
                policy.securityGroups[g].rules.remove(at: rng.below(policy.securityGroups[g].rules.count))
            }
        case 4:  // a group gains a remote-group rule
            let remote = rng.pick(policy.securityGroups).name
            policy.securityGroups[g].rules.append(Rule(
                direction: rng.chance(50) ? .ingress : .egress, proto: .tcp, ports: [PortRange(UInt16(1 + rng.below(60000)))],
                remote: .group(remote)))
        case 5:  // a rule's ports change
            if !policy.securityGroups[g].rules.isEmpty {
                let r = rng.below(policy.securityGroups[g].rules.count)
                if policy.securityGroups[g].rules[r].proto.hasPorts {
                    policy.securityGroups[g].rules[r].ports = [PortRange(UInt16(1 + rng.below(1000)), 2000)]
                }
            }
        case 6:  // a VM migrates to another host
            policy.ports[p].host = rng.pick(policy.hosts).name
        case 7:  // an address pair is added (a VIP)
            policy.ports[p].allowedAddressPairs.append(AddressPair(ip: IPPrefix(address: .v4(IPv4Address(rawValue: 0x6440_0000 | UInt32(rng.below(4096) * 4))), length: 30)!))
        default:  // a host empties
            let host = rng.pick(policy.hosts).name
            policy.ports.removeAll { $0.host == host }
        }
    }
}
