import PolicyCompiler
import PolicyModel

/// A change reduced to "this object now is that (or is gone)": the
/// convenience forms (a port's groups, a group's rules) filled in from the
/// current policy.
enum ResolvedChange {
    case port(String, Port?)
    case group(String, SecurityGroup?)
    case network(String, Network?)
    case host(String, Host?)

    /// Nil when a convenience form names an object that doesn't exist.
    init?(_ change: PolicyChange, in index: PolicyIndex) {
        switch change {
        case .setPort(let port): self = .port(port.name, port)
        case .removePort(let name): self = .port(name, nil)
        case .setPortGroups(let name, let groups):
            guard var port = index.port(name) else { return nil }
            port.securityGroups = groups
            self = .port(name, port)
        case .setPortAddresses(let name, let ips, let pairs):
            guard var port = index.port(name) else { return nil }
            port.ips = ips
            port.allowedAddressPairs = pairs
            self = .port(name, port)
        case .setGroup(let group): self = .group(group.name, group)
        case .removeGroup(let name): self = .group(name, nil)
        case .setGroupRules(let name, let rules):
            guard var group = index.group(name) else { return nil }
            group.rules = rules
            self = .group(name, group)
        case .setNetwork(let network): self = .network(network.name, network)
        case .removeNetwork(let name): self = .network(name, nil)
        case .setHost(let host): self = .host(host.name, host)
        case .removeHost(let name): self = .host(name, nil)
        }
    }

    /// The change that puts back what this one replaces.
    func inverse(in index: PolicyIndex) -> ResolvedChange {
        switch self {
        case .port(let name, _): .port(name, index.port(name))
        case .group(let name, _): .group(name, index.group(name))
        case .network(let name, _): .network(name, index.network(name))
        case .host(let name, _): .host(name, index.host(name))
        }
    }

    func apply(to index: inout PolicyIndex) {
        switch self {
        case .port(let name, let port): index.setPort(name, to: port)
        case .group(let name, let group): index.setGroup(name, to: group)
        case .network(let name, let network): index.setNetwork(name, to: network)
        case .host(let name, let host): index.setHost(name, to: host)
        }
    }
}
