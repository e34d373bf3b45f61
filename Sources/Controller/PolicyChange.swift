import PolicyModel

/// One change to a cloud's policy, as a control plane states it. Objects are
/// named by their `name`; a `set` adds the object or replaces the one of the
/// same name.
public enum PolicyChange: Hashable, Sendable {
    case setPort(Port)
    case removePort(String)
    /// The port's security groups, all else unchanged.
    case setPortGroups(port: String, [String])
    /// The port's fixed IPs and allowed address pairs, all else unchanged.
    case setPortAddresses(port: String, ips: [IPAddress], allowedAddressPairs: [AddressPair])
    case setGroup(SecurityGroup)
    case removeGroup(String)
    /// The group's rules, all else unchanged.
    case setGroupRules(group: String, [Rule])
    case setNetwork(Network)
    case removeNetwork(String)
    case setHost(Host)
    case removeHost(String)
}

/// The changes that turn one policy into another, by name: what a control
/// plane would have sent had it sent changes. Removals of ports come first
/// and additions of networks, hosts and groups before the ports that use
/// them, so that each prefix of the list is a policy the next change can
/// be checked against.
public func changes(from old: Policy, to new: Policy) -> [PolicyChange] {
    func byName<T>(_ items: [T], _ name: (T) -> String) -> [String: T] {
        Dictionary(items.map { (name($0), $0) }, uniquingKeysWith: { a, _ in a })
    }
    let (oldPorts, newPorts) = (byName(old.ports, \.name), byName(new.ports, \.name))
    let (oldGroups, newGroups) = (byName(old.securityGroups, \.name), byName(new.securityGroups, \.name))
    let (oldNetworks, newNetworks) = (byName(old.networks, \.name), byName(new.networks, \.name))
    let (oldHosts, newHosts) = (byName(old.hosts, \.name), byName(new.hosts, \.name))

    var result: [PolicyChange] = []
    result += oldPorts.keys.filter { newPorts[$0] == nil }.sorted().map(PolicyChange.removePort)
    result += new.networks.filter { oldNetworks[$0.name] != $0 }.map(PolicyChange.setNetwork)
    result += new.hosts.filter { oldHosts[$0.name] != $0 }.map(PolicyChange.setHost)
    result += new.securityGroups.filter { oldGroups[$0.name] != $0 }.map(PolicyChange.setGroup)
    result += new.ports.filter { oldPorts[$0.name] != $0 }.map(PolicyChange.setPort)
    result += oldGroups.keys.filter { newGroups[$0] == nil }.sorted().map(PolicyChange.removeGroup)
    result += oldHosts.keys.filter { newHosts[$0] == nil }.sorted().map(PolicyChange.removeHost)
    result += oldNetworks.keys.filter { newNetworks[$0] == nil }.sorted().map(PolicyChange.removeNetwork)
    return result
}
