import HostModel
import PolicyModel

/// Lookups over a validated policy, shared by every host's compilation, so
/// compiling all hosts costs the size of the policy plus the size of each
/// host's output, not hosts × policy.
///
/// It is also the incremental controller's model of the cloud: the `set`
/// methods replace one object and keep every lookup up to date in time
/// proportional to what that object touches (its host's ports, its groups'
/// members), never to the size of the cloud. The index does not validate:
/// callers keep the policy valid.
public struct PolicyIndex: Sendable {
    private(set) var networks: [String: Network] = [:]
    private(set) var hosts: [String: Host] = [:]
    private(set) var groups: [String: SecurityGroup] = [:]
    private(set) var ports: [String: Port] = [:]
    /// Host name → its ports, in the order they were added (policy order).
    private(set) var portsByHost: [String: [Port]] = [:]
    /// Network name → host → how many of the network's ports it has.
    private var portCountByNetwork: [String: [String: Int]] = [:]
    /// Group name → host → how many of the group's members it has.
    private var memberCountByGroup: [String: [String: Int]] = [:]
    /// Group name → names of its members whose addresses count for
    /// remote-group rules (ports with port security).
    private var addressMembers: [String: Set<String>] = [:]
    /// Group name → group → how many of that group's rules name it as remote.
    private var remoteReferrers: [String: [String: Int]] = [:]
    /// Group name → the merged address ranges of its members, per family,
    /// already as set elements; only for groups some rule names as remote.
    private(set) var memberElements: [String: [IPFamily: Set<NFTElement>]] = [:]
    /// Network name → MAC or IP → the port using it.
    private var macOwners: [String: [MACAddress: String]] = [:]
    private var ipOwners: [String: [IPAddress: String]] = [:]
    private var segmentOwners: [Segment: String] = [:]
    /// Group name → its rules translated, per direction: a group's chain is
    /// the same on every host, so it is translated once.
    private(set) var groupRules: [String: [Direction: [NFTRule]]] = [:]

    public init(_ policy: Policy) {
        for network in policy.networks where networks[network.name] == nil { setNetwork(network.name, to: network) }
        for host in policy.hosts where hosts[host.name] == nil { hosts[host.name] = host }
        for group in policy.securityGroups where groups[group.name] == nil { insert(group) }
        for port in policy.ports where ports[port.name] == nil { insert(port) }
        for name in remoteReferrers.keys { refreshMemberElements(of: name) }
    }

    public var hostNames: [String] { hosts.keys.sorted() }
    public var groupNames: [String] { groups.keys.sorted() }
    public var portNames: [String] { ports.keys.sorted() }
    public var networkNames: [String] { networks.keys.sorted() }

    // MARK: - queries for the controller

    public func port(_ name: String) -> Port? { ports[name] }
    public func group(_ name: String) -> SecurityGroup? { groups[name] }
    public func network(_ name: String) -> Network? { networks[name] }
    public func host(_ name: String) -> Host? { hosts[name] }

    /// Hosts with at least one port on the network.
    public func hosts(onNetwork network: String) -> Set<String> {
        portCountByNetwork[network].map { Set($0.keys) } ?? []
    }

    /// Hosts with at least one member of the group.
    public func hosts(withMembersOf group: String) -> Set<String> {
        memberCountByGroup[group].map { Set($0.keys) } ?? []
    }

    /// Hosts that hold the group's address sets: those with members of a
    /// group that has a rule naming this group as remote.
    public func hosts(referencing group: String) -> Set<String> {
        var result = Set<String>()
        for referrer in (remoteReferrers[group] ?? [:]).keys { result.formUnion(hosts(withMembersOf: referrer)) }
        return result
    }

    public func ports(onHost host: String) -> [Port] { portsByHost[host] ?? [] }

    /// How many of the network's ports are on the host.
    public func portCount(onNetwork network: String, host: String) -> Int { portCountByNetwork[network]?[host] ?? 0 }

    public func owner(ofMAC mac: MACAddress, on network: String) -> String? { macOwners[network]?[mac] }
    public func owner(ofIP ip: IPAddress, on network: String) -> String? { ipOwners[network]?[ip] }
    public func network(usingSegment segment: Segment) -> String? { segmentOwners[segment] }

    /// Groups with a rule naming this group as remote.
    public func referrers(of group: String) -> [String] { (remoteReferrers[group] ?? [:]).keys.sorted() }

    /// The policy the index holds, objects sorted by name.
    public var policy: Policy {
        Policy(
            networks: networks.values.sorted { $0.name < $1.name }, hosts: hosts.values.sorted { $0.name < $1.name },
            securityGroups: groups.values.sorted { $0.name < $1.name }, ports: ports.values.sorted { $0.name < $1.name })
    }

    /// A group's rules as its chain for one direction holds them.
    public func rules(ofGroup group: String, _ direction: Direction) -> [NFTRule] {
        groupRules[group]?[direction] ?? []
    }

    public func isReferencedAsRemote(_ group: String) -> Bool { remoteReferrers[group] != nil }

    /// The member address elements of a group named as remote (empty sets
    /// for a group without members).
    public func addressElements(of group: String) -> [IPFamily: Set<NFTElement>] {
        memberElements[group] ?? [:]
    }

    // MARK: - changes

    /// Replaces the port named `name` (nil: removes it or adds none).
    public mutating func setPort(_ name: String, to new: Port?) {
        let old = ports[name]
        guard old != new else { return }
        let touched = Set(old.map(addressGroups) ?? []).union(new.map(addressGroups) ?? [])
        if let old { remove(old) }
        if let new { insert(new) }
        for group in touched where remoteReferrers[group] != nil { refreshMemberElements(of: group) }
    }

    public mutating func setGroup(_ name: String, to new: SecurityGroup?) {
        let old = groups[name]
        guard old != new else { return }
        var touched = Set<String>()
        if let old {
            for remote in Self.remotes(of: old) {
                remoteReferrers[remote]![name]! -= 1
                if remoteReferrers[remote]![name] == 0 { remoteReferrers[remote]![name] = nil }
                if remoteReferrers[remote]!.isEmpty { remoteReferrers[remote] = nil }
                touched.insert(remote)
            }
            groups[name] = nil
            groupRules[name] = nil
        }
        if let new {
            insert(new)
            touched.formUnion(Self.remotes(of: new))
        }
        for group in touched { refreshMemberElements(of: group) }
    }

    public mutating func setNetwork(_ name: String, to new: Network?) {
        if let old = networks[name], segmentOwners[old.segment] == name { segmentOwners[old.segment] = nil }
        networks[name] = new
        if let new, segmentOwners[new.segment] == nil { segmentOwners[new.segment] = name }
    }
    public mutating func setHost(_ name: String, to new: Host?) { hosts[name] = new }

    // MARK: - bookkeeping

    private mutating func insert(_ group: SecurityGroup) {
        groups[group.name] = group
        var rules: [Direction: [NFTRule]] = [:]
        for direction in Direction.allCases {
            rules[direction] = group.rules.enumerated().filter { $0.element.direction == direction }
                .flatMap { i, rule in RuleTranslator.translate(rule, group: group.name, number: i) }
        }
        groupRules[group.name] = rules
        for remote in Self.remotes(of: group) { remoteReferrers[remote, default: [:]][group.name, default: 0] += 1 }
    }

    private mutating func insert(_ port: Port) {
        ports[port.name] = port
        portsByHost[port.host, default: []].append(port)
        portCountByNetwork[port.network, default: [:]][port.host, default: 0] += 1
        for group in Set(port.securityGroups) { memberCountByGroup[group, default: [:]][port.host, default: 0] += 1 }
        for group in addressGroups(port) { addressMembers[group, default: []].insert(port.name) }
        if macOwners[port.network]?[port.mac] == nil { macOwners[port.network, default: [:]][port.mac] = port.name }
        for ip in port.ips where ipOwners[port.network]?[ip] == nil { ipOwners[port.network, default: [:]][ip] = port.name }
    }

    private mutating func remove(_ port: Port) {
        ports[port.name] = nil
        portsByHost[port.host]!.removeAll { $0.name == port.name }
        if portsByHost[port.host]!.isEmpty { portsByHost[port.host] = nil }
        Self.decrement(&portCountByNetwork, port.network, port.host)
        for group in Set(port.securityGroups) { Self.decrement(&memberCountByGroup, group, port.host) }
        if macOwners[port.network]?[port.mac] == port.name { macOwners[port.network]![port.mac] = nil }
        for ip in port.ips where ipOwners[port.network]?[ip] == port.name { ipOwners[port.network]![ip] = nil }
        for group in addressGroups(port) {
            addressMembers[group]!.remove(port.name)
            if addressMembers[group]!.isEmpty { addressMembers[group] = nil }
        }
    }

    private static func decrement(_ counts: inout [String: [String: Int]], _ key: String, _ host: String) {
        counts[key]![host]! -= 1
        if counts[key]![host] == 0 { counts[key]![host] = nil }
        if counts[key]!.isEmpty { counts[key] = nil }
    }

    /// The groups whose address sets a port's addresses belong to: only a
    /// port with port security is held to its addresses.
    private func addressGroups(_ port: Port) -> Set<String> {
        port.portSecurity ? Set(port.securityGroups) : []
    }

    private static func remotes(of group: SecurityGroup) -> [String] {
        group.rules.compactMap { if case .group(let g) = $0.remote { g } else { nil } }
    }

    private mutating func refreshMemberElements(of group: String) {
        guard remoteReferrers[group] != nil else {
            memberElements[group] = nil
            return
        }
        var ranges: [IPRange] = []
        for member in addressMembers[group] ?? [] { ranges += ports[member]!.addressPrefixes.map(IPRange.init) }
        var byFamily: [IPFamily: Set<NFTElement>] = [.ipv4: [], .ipv6: []]
        for range in IPRange.merged(ranges) { byFamily[range.family]!.insert(NFTElement([.address(range)])) }
        memberElements[group] = byFamily
    }
}
