import HostModel
import PolicyModel

public struct CompileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What the compiler decided for one port, for people reading `sgctl compile`.
public struct CompiledPort: Hashable, Sendable, Codable {
    public var name: String
    public var device: String
    public var network: String
    public var segment: String
    public var bridge: String
    public var zone: UInt16
    /// Nil for ports without port security: they get no checks.
    public var slot: Int?
    public var securityGroups: [String]
    public var stateful: Bool
}

public struct HostCompilation: Hashable, Sendable {
    public var host: String
    public var state: HostState
    public var ports: [CompiledPort]
}

/// Policy → the desired state of one host.
public struct PolicyCompiler: Sendable {
    public var index: PolicyIndex

    public init(_ policy: Policy) { index = PolicyIndex(policy) }
    public init(index: PolicyIndex) { self.index = index }

    public func compile(host: String) throws(CompileError) -> HostState {
        try compileExplained(host: host).state
    }

    public func compileExplained(host hostName: String) throws(CompileError) -> HostCompilation {
        guard let host = index.hosts[hostName] else {
            throw CompileError(
                message: "host \"\(hostName)\" is not in the policy\(NameSuggestion.hint(for: hostName, in: index.hostNames))")
        }
        guard var builder = try HostBuilder(index: index, host: host) else {
            return HostCompilation(host: hostName, state: HostState(), ports: [])
        }
        return builder.build()
    }
}

/// Builds one host's state. Kept apart from `PolicyCompiler` so that each
/// part of the output (links, bridge table, inet table) reads as one method.
struct HostBuilder {
    let index: PolicyIndex
    let host: Host
    let ports: [Port]
    let zones: [String: UInt16]
    let slots: [String: Int]

    /// The builder of a host as the index has it; nil when it has no ports.
    init?(index: PolicyIndex, host: Host) throws(CompileError) {
        let ports = index.portsByHost[host.name] ?? []
        guard !ports.isEmpty else { return nil }
        let networks = Dictionary(grouping: ports, by: \.network).keys.sorted().compactMap { index.networks[$0] }
        let secured = ports.filter(\.portSecurity)
        guard let slots = StableAllocator.slots(for: secured.map(\.name)) else {
            throw CompileError(
                message: "host \"\(host.name)\" has \(secured.count) ports with port security; at most \(PacketMark.slots.count) fit the packet mark")
        }
        self.init(index: index, host: host, ports: ports, zones: StableAllocator.zones(for: networks), slots: slots)
    }

    init(index: PolicyIndex, host: Host, ports: [Port], zones: [String: UInt16], slots: [String: Int]) {
        self.index = index
        self.host = host
        self.ports = ports
        self.zones = zones
        self.slots = slots
    }

    mutating func build() -> HostCompilation {
        let links = buildLinks()
        let portElements = ports.map(elements(of:))
        let state = HostState(links: links, tables: [bridgeTable(links: links, portElements), inetTable(portElements)])
        let compiled = ports.map { port in
            let network = index.networks[port.network]!
            return CompiledPort(
                name: port.name, device: port.device, network: port.network, segment: network.segment.description,
                bridge: bridgeName(network), zone: zones[port.network]!, slot: slots[port.name],
                securityGroups: port.securityGroups, stateful: isStateful(port))
        }
        return HostCompilation(host: host.name, state: state, ports: compiled)
    }

    func isStateful(_ port: Port) -> Bool {
        port.securityGroups.allSatisfy { index.groups[$0]?.stateful ?? true }
    }

    /// Whether the port's own checks read the connection state: a filtered
    /// port in stateful groups (or in none, whose profile is stateful too).
    /// A packet is tracked when one of its ends on this host needs it; see
    /// `bridgeTable` for how the prerouting chain decides.
    func needsTracking(_ port: Port) -> Bool {
        port.portSecurity && isStateful(port)
    }

    func bridgeName(_ network: Network) -> String {
        switch network.segment {
        case .vlan: Naming.vlanBridge
        case .vxlan(let vni): Naming.bridge(vni: vni)
        }
    }

    // MARK: - links

    /// Where a port's device goes: its network's bridge, with the VLAN as
    /// PVID on the VLAN-aware one.
    func bridgePort(for port: Port) -> BridgePort {
        let network = index.networks[port.network]!
        switch network.segment {
        case .vlan(let id): return BridgePort(bridge: Naming.vlanBridge, pvid: id)
        case .vxlan: return BridgePort(bridge: bridgeName(network))
        }
    }

    func buildLinks() -> LinkState {
        var links = LinkState()
        var trunkVLANs = Set<UInt16>()
        for port in ports { links.ports[port.device] = bridgePort(for: port) }
        for name in Set(ports.map(\.network)) {
            let network = index.networks[name]!
            let bridge = bridgeName(network)
            switch network.segment {
            case .vlan(let id):
                links.bridges[bridge] = Bridge(name: bridge, vlanFiltering: true)
                trunkVLANs.insert(id)
            case .vxlan(let vni):
                links.bridges[bridge] = Bridge(name: bridge, vlanFiltering: false)
                let remotes = index.hosts(onNetwork: name).subtracting([host.name]).compactMap { index.hosts[$0]?.vtep }
                // A network with ports on this host only needs no tunnel.
                if !remotes.isEmpty {
                    let device = Naming.vxlanDevice(vni: vni)
                    links.vxlans[device] = VXLANDevice(
                        name: device, vni: vni, local: host.vtep, underlay: host.uplink, bridge: bridge)
                    for remote in remotes { links.floods.insert(FloodEntry(device: device, remote: remote)) }
                }
            }
        }
        if let uplink = host.uplink, !trunkVLANs.isEmpty {
            links.trunks[uplink] = Trunk(bridge: Naming.vlanBridge, vlans: trunkVLANs)
        }
        return links
    }

    // MARK: - bridge table: port security and marking

    /// The set elements one port puts into its host's tables, by table and
    /// set. Ports never share an element (each is keyed by the port's device,
    /// slot or MAC), so a host's sets are the union of its ports' elements
    /// plus the tunnel and trunk entries.
    func elements(of port: Port) -> [NFTTableID: [String: Set<NFTElement>]] {
        let bridge = NFTTableID(.bridge, Naming.table)
        let inet = NFTTableID(.inet, Naming.table)
        var sets: [String: Set<NFTElement>] = [:]
        let device = NFTAtom.ifname(port.device)
        let zone = zones[port.network]!
        let slot = slots[port.name]
        // The sender's half of the decision: set when the port itself needs
        // no tracking (stateless, or not filtered at all).
        let untracked = !needsTracking(port)
        sets["our_ports", default: []].insert(NFTElement([device]))
        sets["port_marks", default: []].insert(
            NFTElement([device], data: .mark(PacketMark.source(slot: slot, untracked: untracked, zone: zone))))
        guard port.portSecurity, let slot else { return [bridge: sets] }
        sets["ingress_marks", default: []].insert(NFTElement([device], data: .mark(PacketMark.destination(slot: slot))))
        sets["secured_ports", default: []].insert(NFTElement([device]))
        // The receiver's half. The port's own MAC only: an address pair's
        // MAC may be shared by several ports, and a set element must belong
        // to one port (PortPatch swaps a port's elements alone).
        if !untracked { sets["stateful_macs", default: []].insert(NFTElement([.integer(UInt32(zone)), .mac(port.mac)])) }

        // Each MAC the port may use, with the addresses it may use with it.
        var addressesByMAC: [MACAddress: [IPRange]] = [port.mac: port.ips.map { IPRange(IPPrefix(host: $0)) }]
        for pair in port.allowedAddressPairs {
            addressesByMAC[pair.mac ?? port.mac, default: []].append(IPRange(pair.ip))
        }
        // Single addresses go to hash sets, prefixes of address pairs to
        // interval sets: the kernel keeps a concatenated interval set as
        // pipapo, whose every change copies and rebuilds the whole set (a
        // port leaving a 2,000-port host took 100 ms); a hash set changes in
        // constant time, and most ports have no prefixes at all.
        for (mac, ranges) in addressesByMAC {
            sets["allowed_macs", default: []].insert(NFTElement([device, .mac(mac)]))
            let linkLocal = IPRange(IPPrefix(host: .v6(mac.eui64LinkLocal)))
            var prefixes: [IPRange] = []
            for range in ranges + [linkLocal] {
                if range.lower == range.upper {
                    sets[Self.allowedSet(range.family), default: []].insert(NFTElement([device, .mac(mac), .address(range)]))
                } else {
                    prefixes.append(range)
                }
            }
            for range in IPRange.merged(prefixes) {
                sets[Self.allowedSet(range.family) + "_prefixes", default: []].insert(NFTElement([device, .mac(mac), .address(range)]))
            }
        }
        let dispatch: [String: Set<NFTElement>] = [
            "egress_ports": [NFTElement([.integer(PacketMark.sourceKey(slot: slot))], data: .verdict(.goto(Naming.portChain(device: port.device, .egress))))],
            "ingress_ports": [NFTElement([.integer(PacketMark.destination(slot: slot))], data: .verdict(.goto(Naming.portChain(device: port.device, .ingress))))],
        ]
        return [bridge: sets, inet: dispatch]
    }

    static func allowedSet(_ family: IPFamily) -> String { family == .ipv4 ? "allowed_ipv4" : "allowed_ipv6" }

    func bridgeTable(links: LinkState, _ portElements: [[NFTTableID: [String: Set<NFTElement>]]]) -> NFTTable {
        let id = NFTTableID(.bridge, Naming.table)
        var elements: [String: Set<NFTElement>] = [:]
        for contribution in portElements {
            for (set, members) in contribution[id] ?? [:] { elements[set, default: []].formUnion(members) }
        }
        var portMarks = elements["port_marks"] ?? []

        // Frames arriving through a tunnel belong to the tunnel's network;
        // frames from the trunk start unmarked and get the zone of their VLAN.
        // Their sender is on another host, which tracks them if it needs to:
        // here they are marked untracked unless a local port needs them tracked.
        for (network, zone) in zones {
            if case .vxlan(let vni) = index.networks[network]!.segment, links.vxlans[Naming.vxlanDevice(vni: vni)] != nil {
                portMarks.insert(NFTElement(
                    [.ifname(Naming.vxlanDevice(vni: vni))], data: .mark(PacketMark.source(slot: nil, untracked: true, zone: zone))))
            }
        }
        for uplink in links.trunks.keys { portMarks.insert(NFTElement([.ifname(uplink)], data: .mark(0))) }

        // A plain set of the same names: Debian 12's kernel (6.1) refuses a
        // membership test ("iifname != @map") on a map with EINVAL.
        let ourPorts = Set(portMarks.map { NFTElement($0.key) })
        var sets = [
            NFTSet(name: "our_ports", key: [.ifname], comment: "every bridge port of ours", elements: ourPorts),
            NFTSet(name: "port_marks", key: [.ifname], data: .mark, comment: "our bridge ports -> slot<<17 | untracked<<16 | zone", elements: portMarks),
            NFTSet(name: "ingress_marks", key: [.ifname], data: .mark, comment: "filtered port -> 1<<31 | slot", elements: elements["ingress_marks"] ?? []),
            NFTSet(name: "secured_ports", key: [.ifname], comment: "ports with port security", elements: elements["secured_ports"] ?? []),
            NFTSet(name: "allowed_macs", key: [.ifname, .etherAddr], elements: elements["allowed_macs"] ?? []),
            NFTSet(name: "allowed_ipv4", key: [.ifname, .etherAddr, .ipv4Addr], elements: elements["allowed_ipv4"] ?? []),
            NFTSet(name: "allowed_ipv6", key: [.ifname, .etherAddr, .ipv6Addr], elements: elements["allowed_ipv6"] ?? []),
            NFTSet(
                name: "allowed_ipv4_prefixes", key: [.ifname, .etherAddr, .ipv4Addr], interval: true, comment: "address pairs that are prefixes",
                elements: elements["allowed_ipv4_prefixes"] ?? []),
            NFTSet(
                name: "allowed_ipv6_prefixes", key: [.ifname, .etherAddr, .ipv6Addr], interval: true, comment: "address pairs that are prefixes",
                elements: elements["allowed_ipv6_prefixes"] ?? []),
            NFTSet(
                name: "stateful_macs", key: [.mark, .etherAddr], comment: "zone . MAC of filtered ports in stateful groups",
                elements: elements["stateful_macs"] ?? []),
        ]
        // Connection tracking: a packet is tracked when either of its ends on
        // this host needs it (a filtered port in stateful groups), so that a
        // stateful port finds the replies of its connections established
        // whether its peer is stateless or not, and on this host or not.
        // The sender's half comes with its port_marks entry (the untracked
        // bit: stateless or unfiltered port, tunnel, trunk); the receiver's
        // half clears the bit for a stateful port's MAC. That lookup is keyed
        // on the zone, so it must come after the trunk's frames got theirs.
        var prerouting = [
            // Frames of other bridges' ports are none of our business: their
            // marks stay as they are.
            NFTRule([.lookup([.iifname], .notEqual, set: "our_ports")], verdict: .accept, comment: "not a port of ours"),
            NFTRule(statements: [.setMark(.map(.iifname, "port_marks"))]),
        ]
        if let uplink = host.uplink, let vlanRule = vlanZones(uplink: uplink) {
            sets.append(vlanRule.set)
            prerouting.append(vlanRule.rule)
        }
        prerouting.append(NFTRule(
            [.lookup([.mark(mask: PacketMark.zoneMask), .etherDaddr], .equal, set: "stateful_macs")],
            statements: [.setMark(.and(~PacketMark.untrackedBit))], comment: PacketMark.toStatefulPortComment))
        prerouting.append(NFTRule([.lookup([.iifname], .equal, set: "secured_ports")], verdict: .goto("port-security")))

        return NFTTable(id: id, sets: sets, chains: [
            NFTChain(name: "prerouting", base: NFTBaseChain(hook: .prerouting, priority: -300), rules: prerouting),
            NFTChain(name: "forward", base: NFTBaseChain(hook: .forward, priority: -200), rules: [
                NFTRule(statements: [.setMark(.map(.oifname, "ingress_marks"))])
            ]),
            portSecurityChain(), arpChain(), ipv4Chain(), ipv6Chain(),
        ])
    }

    /// Frames arriving tagged on the trunk get the zone of their VLAN, and
    /// the untracked bit: their sender is on another host (the mark replaces
    /// the trunk's port_marks entry, which leaves untagged frames alone).
    func vlanZones(uplink: String) -> (set: NFTSet, rule: NFTRule)? {
        var elements = Set<NFTElement>()
        for (name, zone) in zones {
            if case .vlan(let id) = index.networks[name]!.segment {
                elements.insert(NFTElement([.integer(UInt32(id))], data: .mark(PacketMark.source(slot: nil, untracked: true, zone: zone))))
            }
        }
        guard !elements.isEmpty else { return nil }
        return (
            NFTSet(name: "vlan_zones", key: [.vlanID], data: .mark, comment: "VLAN id -> untracked<<16 | zone, for frames from the trunk", elements: elements),
            NFTRule(
                [.compare(.iifname, .equal, .ifname(uplink)), .compare(.etherType, .equal, .integer(0x8100))],
                statements: [.setMark(.map(.vlanID, "vlan_zones"))])
        )
    }

    func portSecurityChain() -> NFTChain {
        NFTChain(name: "port-security", rules: [
            NFTRule([.lookup([.iifname, .etherSaddr], .notEqual, set: "allowed_macs")], statements: [.counter], verdict: .drop, comment: "source MAC not the port's"),
            NFTRule([.compare(.etherType, .equal, .integer(0x0806))], verdict: .goto("port-security-arp")),
            NFTRule([.compare(.etherType, .equal, .integer(0x0800))], verdict: .goto("port-security-ipv4")),
            NFTRule([.compare(.etherType, .equal, .integer(0x86dd))], verdict: .goto("port-security-ipv6")),
            NFTRule(statements: [.counter], verdict: .drop, comment: "only IPv4, IPv6 and ARP"),
        ])
    }

    // The chains below are entered by ether type, yet each rule that reads
    // the network header states its ether type again: nft adds that same
    // match when it reads the rule as text, and `nft list` needs it to name
    // the fields (`ip saddr`, not `@nh,96,32`). Both paths then give the
    // kernel the same bytecode.

    func arpChain() -> NFTChain {
        let arp = NFTMatch.compare(.etherType, .equal, .integer(0x0806))
        return NFTChain(name: "port-security-arp", rules: [
            NFTRule([arp, .lookup([.iifname, .arpSenderMAC, .arpSenderIP], .equal, set: "allowed_ipv4")], verdict: .accept),
            NFTRule([arp, .lookup([.iifname, .arpSenderMAC, .arpSenderIP], .equal, set: "allowed_ipv4_prefixes")], verdict: .accept),
            NFTRule(
                [arp, .compare(.arpSenderIP, .equal, .address(IPRange(IPPrefix(host: .v4(.zero))))),
                 .lookup([.iifname, .arpSenderMAC], .equal, set: "allowed_macs")],
                verdict: .accept, comment: "address conflict probe"),
            NFTRule(statements: [.counter], verdict: .drop, comment: "ARP sender not the port's"),
        ])
    }

    func ipv4Chain() -> NFTChain {
        let udp = NFTMatch.compare(.l4proto, .equal, .integer(17))
        let ipv4 = NFTMatch.compare(.etherType, .equal, .integer(0x0800))
        return NFTChain(name: "port-security-ipv4", rules: [
            NFTRule([udp, .compare(.transportSport, .equal, .integer(67))], statements: [.counter], verdict: .drop, comment: "DHCP server reply"),
            NFTRule([ipv4, .lookup([.iifname, .etherSaddr, .ipSaddr], .equal, set: "allowed_ipv4")], verdict: .accept),
            NFTRule([ipv4, .lookup([.iifname, .etherSaddr, .ipSaddr], .equal, set: "allowed_ipv4_prefixes")], verdict: .accept),
            NFTRule(
                [ipv4, .compare(.ipSaddr, .equal, .address(IPRange(IPPrefix(host: .v4(.zero))))),
                 .compare(.ipDaddr, .equal, .address(IPRange(IPPrefix(host: .v4(IPv4Address(rawValue: .max)))))),
                 udp, .compare(.transportSport, .equal, .integer(68)), .compare(.transportDport, .equal, .integer(67))],
                verdict: .accept, comment: "DHCP discovery"),
            NFTRule(statements: [.counter], verdict: .drop, comment: "IPv4 source not the port's"),
        ])
    }

    func ipv6Chain() -> NFTChain {
        let icmpv6 = NFTMatch.compare(.l4proto, .equal, .integer(58))
        let ipv6 = NFTMatch.compare(.etherType, .equal, .integer(0x86dd))
        return NFTChain(name: "port-security-ipv6", rules: [
            NFTRule([.compare(.l4proto, .equal, .integer(17)), .compare(.transportSport, .equal, .integer(547))], statements: [.counter], verdict: .drop, comment: "DHCPv6 server reply"),
            NFTRule([icmpv6, .anyOf(.icmpv6Type, [.integer(134), .integer(137)])], statements: [.counter], verdict: .drop, comment: "router advertisement or redirect"),
            NFTRule([ipv6, .lookup([.iifname, .etherSaddr, .ip6Saddr], .equal, set: "allowed_ipv6")], verdict: .accept),
            NFTRule([ipv6, .lookup([.iifname, .etherSaddr, .ip6Saddr], .equal, set: "allowed_ipv6_prefixes")], verdict: .accept),
            NFTRule(
                [ipv6, .compare(.ip6Saddr, .equal, .address(IPRange(IPPrefix(host: .v6(.zero))))), icmpv6,
                 .anyOf(.icmpv6Type, [.integer(131), .integer(135), .integer(143)])],
                verdict: .accept, comment: "duplicate address detection"),
            NFTRule(statements: [.counter], verdict: .drop, comment: "IPv6 source not the port's"),
        ])
    }

    // MARK: - inet table: stateful filtering

    func inetTable(_ portElements: [[NFTTableID: [String: Set<NFTElement>]]]) -> NFTTable {
        let id = NFTTableID(.inet, Naming.table)
        let notOurBridge = NFTMatch.compare(.iifname, .notEqual, .ifnamePrefix(Naming.bridgePrefix))
        var zoneElements = Set<NFTElement>()
        for zone in Set(zones.values) { zoneElements.insert(NFTElement([.integer(UInt32(zone))], data: .zone(zone))) }

        var egress = Set<NFTElement>()
        var ingress = Set<NFTElement>()
        for contribution in portElements {
            egress.formUnion(contribution[id]?["egress_ports"] ?? [])
            ingress.formUnion(contribution[id]?["ingress_ports"] ?? [])
        }
        let shape = self.shape()

        var chains = [
            NFTChain(name: "raw-prerouting", base: NFTBaseChain(hook: .prerouting, priority: -300), rules: [
                NFTRule([notOurBridge], verdict: .accept),
                // Accept ends this chain here: a `ct zone set` after notrack
                // would attach a zone template and get the packet tracked after all.
                NFTRule([.compare(.mark(mask: PacketMark.untrackedBit), .notEqual, .integer(0))], statements: [.notrack], verdict: .accept, comment: "no stateful port at either end"),
                NFTRule(statements: [.setCTZone(.mark(mask: PacketMark.zoneMask), map: "zones")]),
            ]),
            NFTChain(name: "egress", base: NFTBaseChain(hook: .prerouting, priority: 0), rules: [
                NFTRule([notOurBridge], verdict: .accept),
                NFTRule(verdict: .vmap(.mark(mask: PacketMark.sourceSlotMask), "egress_ports")),
            ]),
            NFTChain(name: "ingress", base: NFTBaseChain(hook: .forward, priority: 0), rules: [
                NFTRule([notOurBridge], verdict: .accept),
                NFTRule(verdict: .vmap(.mark(mask: nil), "ingress_ports")),
            ]),
            alwaysAllowed(.egress), alwaysAllowed(.ingress),
        ]
        for (groups, stateful) in shape.profiles {
            for direction in Direction.allCases { chains.append(profileChain(groups, direction, stateful: stateful)) }
        }
        for port in ports where port.portSecurity && slots[port.name] != nil {
            chains += portChains(port)
        }
        var sets = [
            NFTSet(name: "zones", key: [.mark], data: .ctZone, comment: "network zones on this host", elements: zoneElements),
            NFTSet(name: "egress_ports", key: [.mark], data: .verdict, comment: "sending port's slot -> its chain", elements: egress),
            NFTSet(name: "ingress_ports", key: [.mark], data: .verdict, comment: "receiving port's slot -> its chain", elements: ingress),
        ]
        for name in shape.memberGroups {
            for direction in Direction.allCases { chains.append(groupChain(name, direction)) }
        }
        for name in shape.remoteGroups {
            for family in IPFamily.allCases { sets.append(remoteSet(name, family)) }
        }
        return NFTTable(id: id, sets: sets, chains: chains)
    }

    /// The chains and sets of the inet table that come and go with the
    /// ports' groups: a profile chain pair per distinct group list (and its
    /// kind), a chain pair per group with members here, and address sets
    /// for the groups their rules name as remote.
    struct Shape: Equatable {
        var profiles: [[String]: Bool] = [:]
        var memberGroups = Set<String>()
        var remoteGroups = Set<String>()
    }

    func shape() -> Shape {
        var shape = Shape()
        for port in ports where port.portSecurity {
            let groups = port.securityGroups.sorted()
            shape.profiles[groups] = isStateful(port)
            shape.memberGroups.formUnion(groups)
        }
        for name in shape.memberGroups {
            for rule in index.groups[name]!.rules { if case .group(let g) = rule.remote { shape.remoteGroups.insert(g) } }
        }
        return shape
    }

    func groupChain(_ name: String, _ direction: Direction) -> NFTChain {
        NFTChain(name: Naming.groupChain(name, direction), rules: index.groupRules[name]![direction]!)
    }

    func remoteSet(_ name: String, _ family: IPFamily) -> NFTSet {
        NFTSet(
            name: Naming.remoteSet(name, family), key: [family == .ipv4 ? .ipv4Addr : .ipv6Addr], interval: true,
            comment: "addresses of the members of group \(name)", elements: index.memberElements[name]?[family] ?? [])
    }

    /// A filtered port's own chains, one per direction, which the verdict
    /// maps send its packets to: its profile's checks, then its default drop.
    /// The drop is here rather than in the profile (shared by every port
    /// with the same groups) so that it counts this port's packets alone and
    /// logs them under its name; a port changing groups changes one jump.
    func portChains(_ port: Port) -> [NFTChain] {
        let groups = port.securityGroups.sorted()
        return Direction.allCases.map { direction in
            var rules = [NFTRule(verdict: .jump(Naming.profileChain(groups, direction)))]
            if port.log {
                let prefix = LogPrefix(verdict: .drop, direction: direction, port: port.name)
                rules.append(NFTRule(statements: [
                    .limit(perSecond: Self.logRate, burst: Self.logBurst), .log(group: LogPrefix.group, prefix: prefix.text),
                ]))
            }
            rules.append(NFTRule(statements: [.counter], verdict: .drop, comment: Naming.defaultDropComment))
            return NFTChain(name: Naming.portChain(device: port.device, direction), comment: "port \(port.name)", rules: rules)
        }
    }

    /// Logged drops per port and direction: enough to see what is refused,
    /// too few for a flood to fill the log or keep the listener busy.
    static let logRate: UInt32 = 10
    static let logBurst: UInt32 = 20

    /// A port's checks for one direction: state first (replies pass, invalid
    /// packets don't), then what every port may do, then its groups' rules.
    /// What none of them accepts returns to the port's chain, which drops it.
    func profileChain(_ groups: [String], _ direction: Direction, stateful: Bool) -> NFTChain {
        var rules: [NFTRule] = []
        if stateful {
            rules.append(NFTRule([.anyOf(.ctState, [.integer(1)])], statements: [.counter], verdict: .drop, comment: "invalid"))
            rules.append(NFTRule([.anyOf(.ctState, [.integer(2), .integer(4)])], verdict: .accept))
        }
        rules.append(NFTRule(verdict: .jump("always-\(direction.rawValue)")))
        for group in groups { rules.append(NFTRule(verdict: .jump(Naming.groupChain(group, direction)))) }
        let comment = groups.isEmpty ? "ports without security groups" : "ports in \(groups.joined(separator: ", "))"
        return NFTChain(name: Naming.profileChain(groups, direction), comment: String(comment.prefix(120)), rules: rules)
    }

    /// What every filtered port may send or receive, groups or not: neighbour
    /// discovery, router solicitation out and advertisements in, MLD (which
    /// neighbour discovery needs on snooping switches), and DHCP/DHCPv6
    /// client requests out with their replies in.
    func alwaysAllowed(_ direction: Direction) -> NFTChain {
        let v4 = NFTMatch.compare(.nfproto, .equal, .integer(2))
        let v6 = NFTMatch.compare(.nfproto, .equal, .integer(10))
        let udp = NFTMatch.compare(.l4proto, .equal, .integer(17))
        let icmpv6 = NFTMatch.compare(.l4proto, .equal, .integer(58))
        let rules: [NFTRule]
        switch direction {
        case .egress:
            rules = [
                NFTRule([v6, icmpv6, .anyOf(.icmpv6Type, [131, 132, 133, 135, 136, 143].map { .integer($0) })], verdict: .accept, comment: "ND, RS, MLD"),
                NFTRule([v4, udp, .compare(.transportSport, .equal, .integer(68)), .compare(.transportDport, .equal, .integer(67))], verdict: .accept, comment: "DHCP request"),
                NFTRule([v6, udp, .compare(.transportSport, .equal, .integer(546)), .compare(.transportDport, .equal, .integer(547))], verdict: .accept, comment: "DHCPv6 request"),
            ]
        case .ingress:
            rules = [
                NFTRule([v6, icmpv6, .anyOf(.icmpv6Type, [130, 134, 135, 136].map { .integer($0) })], verdict: .accept, comment: "ND, RA, MLD query"),
                NFTRule([v4, udp, .compare(.transportSport, .equal, .integer(67)), .compare(.transportDport, .equal, .integer(68))], verdict: .accept, comment: "DHCP reply"),
                NFTRule([v6, udp, .compare(.transportSport, .equal, .integer(547)), .compare(.transportDport, .equal, .integer(546))], verdict: .accept, comment: "DHCPv6 reply"),
            ]
        }
        return NFTChain(name: "always-\(direction.rawValue)", comment: "allowed for every filtered port", rules: rules)
    }
}
