import HostModel
import PolicyModel

/// Lookups over a validated policy, built once and shared by every host's
/// compilation, so compiling all hosts costs the size of the policy plus
/// the size of each host's output, not hosts × policy.
public final class PolicyIndex: Sendable {
    public let policy: Policy
    let networks: [String: Network]
    let hosts: [String: Host]
    let groups: [String: SecurityGroup]
    /// Host name → its ports, in policy order.
    let portsByHost: [String: [Port]]
    /// Network name → hosts with at least one port on it.
    let hostsByNetwork: [String: Set<String>]
    /// Group name → the merged address ranges of its members, per family,
    /// already as set elements (computed once, shared by every host).
    let memberElements: [String: [IPFamily: Set<NFTElement>]]

    public init(_ policy: Policy) {
        self.policy = policy
        networks = Dictionary(policy.networks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        hosts = Dictionary(policy.hosts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        groups = Dictionary(policy.securityGroups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var byHost: [String: [Port]] = [:]
        var byNetwork: [String: Set<String>] = [:]
        var addresses: [String: [IPRange]] = [:]
        for port in policy.ports {
            byHost[port.host, default: []].append(port)
            byNetwork[port.network, default: []].insert(port.host)
            guard port.portSecurity, !port.securityGroups.isEmpty else { continue }
            let ranges = port.addressPrefixes.map(IPRange.init)
            for group in port.securityGroups { addresses[group, default: []].append(contentsOf: ranges) }
        }
        portsByHost = byHost
        hostsByNetwork = byNetwork
        // Only groups some rule references as remote need their members' addresses.
        var referenced = Set<String>()
        for group in policy.securityGroups {
            for rule in group.rules { if case .group(let g) = rule.remote { referenced.insert(g) } }
        }
        var elements: [String: [IPFamily: Set<NFTElement>]] = [:]
        for name in referenced {
            var byFamily: [IPFamily: Set<NFTElement>] = [.ipv4: [], .ipv6: []]
            for range in IPRange.merged(addresses[name] ?? []) {
                byFamily[range.family]!.insert(NFTElement([.address(range)]))
            }
            elements[name] = byFamily
        }
        memberElements = elements
    }

    public var hostNames: [String] { policy.hosts.map(\.name) }
}
