import PolicyModel

// A deterministic generator of realistic synthetic clouds, for benchmarks and
// tests. The same `CloudShape` (seed included) gives the same `Policy` on every
// run and platform: all randomness comes from `SplitMix64` through the
// integer helpers below (never from the standard library's `random(in:)`,
// whose algorithm is not promised to stay the same), and nothing iterates a
// Set or Dictionary, whose order is seeded per process.
//
// The cloud is built out of tenants. A tenant owns a few networks and a few
// security groups; its ports sit on its networks, join its groups, and its
// remote-group rules refer to its own groups. Each network's ports live on a
// window of hosts (tenant locality), and the windows together cover every host.

/// How big a synthetic cloud is, and which one of that size.
public struct CloudShape: Sendable, Hashable, Codable, CustomStringConvertible {
    public var hosts: Int
    public var ports: Int
    public var groups: Int
    public var networks: Int
    /// Rules in every security group.
    public var rulesPerGroup: Int
    /// Each port with port security joins 1...groupsPerPort groups.
    public var groupsPerPort: Int
    public var seed: UInt64

    public init(
        hosts: Int, ports: Int, groups: Int, networks: Int, rulesPerGroup: Int = 6, groupsPerPort: Int = 2,
        seed: UInt64 = 1
    ) {
        self.hosts = hosts
        self.ports = ports
        self.groups = groups
        self.networks = networks
        self.rulesPerGroup = rulesPerGroup
        self.groupsPerPort = groupsPerPort
        self.seed = seed
    }

    /// The size the compiler's performance targets are set for.
    public static let large = CloudShape(hosts: 1000, ports: 50_000, groups: 5_000, networks: 500)

    /// A cloud of a few dozen ports, small enough to read.
    public static func small(seed: UInt64) -> CloudShape {
        CloudShape(hosts: 4, ports: 30, groups: 6, networks: 3, seed: seed)
    }

    /// Big enough to have many tenants, still quick to generate in a debug build.
    public static func medium(seed: UInt64) -> CloudShape {
        CloudShape(hosts: 50, ports: 2_000, groups: 200, networks: 20, seed: seed)
    }

    public var description: String {
        "\(hosts) hosts, \(ports) ports, \(groups) groups × \(rulesPerGroup) rules, \(networks) networks, "
            + "≤\(groupsPerPort) groups/port, seed \(seed)"
    }
}

public enum SyntheticCloud {
    /// The policy of a cloud of `shape`. It always passes validation.
    ///
    /// Requires at least one host and one network when there are ports, at
    /// most 131,070 hosts (their VTEPs are numbered in 198.18.0.0/15) and
    /// counts that are not negative.
    public static func generate(_ shape: CloudShape) -> Policy {
        precondition(
            shape.hosts >= 0 && shape.ports >= 0 && shape.groups >= 0 && shape.networks >= 0
                && shape.rulesPerGroup >= 0 && shape.groupsPerPort >= 1,
            "negative counts in \(shape)")
        precondition(shape.ports == 0 || (shape.hosts > 0 && shape.networks > 0), "ports need hosts and networks")
        precondition(shape.hosts <= 131_070, "at most 131,070 hosts")
        var generator = Generator(shape: shape)
        return generator.run()
    }
}

// MARK: - Random numbers

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fully specified, so
/// a seed means the same sequence everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (Lemire's multiply-shift; the bias is below
    /// 2^-40 for the bounds used here). Zero when `bound` is zero.
    public mutating func below(_ bound: Int) -> Int {
        guard bound > 0 else { return 0 }
        return Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Uniform in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.count)
    }

    /// True with probability `percent` / 100.
    public mutating func chance(_ percent: Double) -> Bool {
        Double(next() >> 11) * 0x1p-53 * 100 < percent
    }

    /// One element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Fisher-Yates, in place.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }
}

// MARK: - Generator

/// One run of the generator. The phases run in a fixed order and each draws
/// from its own stream (derived from the seed and the phase), so a change to
/// how groups are made does not reshuffle where ports go.
private struct Generator {
    let shape: CloudShape
    let tenantCount: Int

    var hosts: [Host] = []
    var networks: [NetworkPlan] = []
    var groups: [GroupPlan] = []
    /// Per tenant, indexes into `groups`, split by kind.
    var tenantGroups: [(stateful: [Int], stateless: [Int])] = []

    init(shape: CloudShape) {
        self.shape = shape
        // About two networks per tenant (two groups, if there are fewer
        // groups than networks): every tenant owns a network and a group.
        tenantCount = max(1, min(shape.networks, shape.groups) / 2)
    }

    mutating func run() -> Policy {
        makeHosts()
        makeGroupPlans()
        makeNetworks()
        let ports = makePorts()
        return Policy(
            networks: networks.map(\.network), hosts: hosts, securityGroups: makeGroups(), ports: ports)
    }

    func stream(_ phase: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: shape.seed ^ (phase &* 0xd1b5_4a32_d192_ed03))
        return SplitMix64(seed: mixer.next())
    }

    // MARK: hosts

    mutating func makeHosts() {
        let width = digits(shape.hosts)
        hosts.reserveCapacity(shape.hosts)
        for i in 0..<shape.hosts {
            // 198.18.0.0/15 (benchmarking range), skipping .0 of the first /16.
            let vtep = IPv4Address(rawValue: 0xc612_0000 + UInt32(i + 1))
            hosts.append(Host(name: "hv" + padded(i + 1, width), uplink: "eth1", vtep: .v4(vtep)))
        }
    }

    // MARK: networks

    struct NetworkPlan {
        var network: Network
        var tenant: Int
        /// Indexes into `hosts` this network's ports may sit on.
        var hostWindow: [Int]
        var portCount = 0
        var pairCount = 0
        /// Next free host number inside the subnets.
        var nextOffset = 10
        var ipv4: IPPrefix?
        var ipv6: IPPrefix?
    }

    mutating func makeNetworks() {
        var rng = stream(2)
        let count = shape.networks
        networks.reserveCapacity(count)
        let width = digits(count)
        var vlans = 0
        var hostOrder = Array(0..<shape.hosts)
        rng.shuffle(&hostOrder)
        let perNetwork = shape.hosts / max(count, 1)
        for i in 0..<count {
            let segment: Segment
            // About a third VLAN (ids 100...3999), the rest VXLAN.
            if vlans < 3900, rng.chance(33) {
                segment = .vlan(id: UInt16(100 + vlans))
                vlans += 1
            } else {
                segment = .vxlan(vni: UInt32(10_000 + i))
            }
            // Windows start evenly spaced and are at least as wide as the
            // spacing, so together they cover every host.
            var window: [Int] = []
            if !hostOrder.isEmpty {
                let start = i * shape.hosts / count
                let size = min(shape.hosts, max(1, perNetwork * 2) + rng.below(perNetwork * 4 + 3))
                window = (0..<size).map { hostOrder[(start + $0) % shape.hosts] }
            }
            networks.append(NetworkPlan(
                network: Network(name: "net" + padded(i + 1, width), segment: segment), tenant: i % tenantCount,
                hostWindow: window))
        }
    }

    /// Subnets are sized once the ports are placed: big enough for the
    /// network's ports and virtual IPs.
    mutating func assignSubnets() {
        var rng = stream(3)
        var pool: UInt32 = 0x0a01_0000  // 10.1.0.0: unique subnets come from 10.1.0.0-10.255.255.255
        for i in networks.indices {
            let needed = networks[i].portCount + networks[i].pairCount + 12
            var length = 24
            while length > 8, (1 << (32 - length)) - 2 < needed { length -= 1 }
            let roll = rng.below(100)
            let prefix: IPPrefix
            if roll < 15, needed < 65_000 {
                // The tenant kept the default: identical on many networks.
                prefix = IPPrefix(address: .v4(IPv4Address(rawValue: 0x0a00_0000)), length: 16)!
            } else if roll < 25, length == 24 {
                prefix = IPPrefix(address: .v4(IPv4Address(rawValue: 0xc0a8_0000 | UInt32(rng.below(256)) << 8)), length: 24)!
            } else {
                let size = UInt32(1) << UInt32(32 - length)
                var base = (pool + size - 1) & ~(size - 1)
                if base < pool || UInt64(base) + UInt64(size) > 0x0b00_0000 { base = 0x0a01_0000 }  // wrap: overlap is allowed
                pool = base &+ size
                prefix = IPPrefix(address: .v4(IPv4Address(rawValue: base)), length: length)!
            }
            networks[i].ipv4 = prefix
            var subnets = [prefix]
            if rng.chance(30) {
                // fd00:0:0:N::/64, unique per network.
                let v6 = IPPrefix(address: .v6(IPv6Address(rawValue: UInt128(0xfd00) << 112 | UInt128(i + 1) << 64)), length: 64)!
                networks[i].ipv6 = v6
                subnets.append(v6)
            }
            networks[i].network.subnets = subnets
        }
    }

    /// The next unused address of the network: IPv4 and, when dual-stack, IPv6.
    mutating func nextAddresses(network i: Int) -> [IPAddress] {
        let offset = networks[i].nextOffset
        networks[i].nextOffset += 1
        var result: [IPAddress] = []
        if let v4 = networks[i].ipv4, case .v4(let base) = v4.address {
            result.append(.v4(IPv4Address(rawValue: base.rawValue + UInt32(offset))))
        }
        if let v6 = networks[i].ipv6, case .v6(let base) = v6.address {
            result.append(.v6(IPv6Address(rawValue: base.rawValue | UInt128(offset))))
        }
        return result
    }

    // MARK: groups

    struct GroupPlan {
        var name: String
        var role: Role
        var tenant: Int
        var stateful: Bool
    }

    enum Role: String, CaseIterable {
        case web, app, db, cache, lb, bastion, mgmt, default_ = "default"
    }

    mutating func makeGroupPlans() {
        var rng = stream(4)
        tenantGroups = Array(repeating: ([], []), count: tenantCount)
        let width = digits(shape.groups)
        groups.reserveCapacity(shape.groups)
        for i in 0..<shape.groups {
            let tenant = i % tenantCount
            let role = rng.pick(Role.allCases)
            let stateful = !rng.chance(5)
            groups.append(GroupPlan(
                name: "t\(tenant + 1)-\(role.rawValue)-" + padded(i + 1, width), role: role, tenant: tenant,
                stateful: stateful))
            if stateful { tenantGroups[tenant].stateful.append(i) } else { tenantGroups[tenant].stateless.append(i) }
        }
    }

    func makeGroups() -> [SecurityGroup] {
        var rng = stream(5)
        return groups.indices.map { i in
            let plan = groups[i]
            var rules: [Rule] = []
            rules.reserveCapacity(shape.rulesPerGroup)
            for n in 0..<shape.rulesPerGroup {
                rules.append(n == 0 ? Rule(direction: .egress) : rule(for: i, &rng))
            }
            let description = rng.chance(40) ? "\(plan.role.rawValue) tier of tenant \(plan.tenant + 1)" : nil
            return SecurityGroup(name: plan.name, description: description, stateful: plan.stateful, rules: rules)
        }
    }

    /// One rule of group `g` (after its first, "egress any"): 40% refer to
    /// a group of the same tenant, which makes about a third of all rules;
    /// the rest are CIDR port rules, ICMP, a bare protocol number, IPv4- or
    /// IPv6-only SSH, and egress rules to CIDRs.
    func rule(for g: Int, _ rng: inout SplitMix64) -> Rule {
        let roll = rng.below(100)
        switch roll {
        case 0..<40:
            let remote = Remote.group(remoteGroup(for: g, &rng))
            switch rng.below(4) {
            case 0: return Rule(direction: .ingress, remote: remote)
            case 1: return Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: remote)
            case 2: return Rule(direction: .ingress, proto: .icmp, icmp: ICMPMatch(type: 8), remote: remote)
            default:
                let port = UInt16(rng.pick([3306, 5432, 6379, 8080, 9000, 11211, 27017]))
                return Rule(direction: .ingress, proto: .tcp, ports: [PortRange(port)], remote: remote, description: "from peers")
            }
        case 40..<66:
            let (ports, proto) = servicePorts(&rng)
            return Rule(direction: .ingress, proto: proto, ports: ports, remote: .cidr(sourceCIDR(&rng)))
        case 66..<76:
            if rng.chance(70) {
                return Rule(direction: .ingress, proto: .icmp, icmp: rng.chance(50) ? ICMPMatch(type: 8, code: 0) : nil, remote: .cidr(v4(0, 0)))
            }
            return Rule(direction: .ingress, proto: .icmpv6, icmp: ICMPMatch(type: 128), remote: .cidr(IPPrefix("::/0")!))
        case 76..<83:
            // GRE, ESP, VRRP, OSPF: protocols without ports.
            let number = UInt8(rng.pick([47, 50, 112, 89]))
            return Rule(direction: .ingress, proto: IPProtocol(number: number), remote: .cidr(v4(0x0a00_0000, 8)))
        case 83..<90:
            return Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], ethertype: rng.chance(50) ? .ipv4 : .ipv6)
        default:
            let port = UInt16(rng.pick([53, 123, 443, 5432]))
            let proto: IPProtocol = port == 53 || port == 123 ? .udp : .tcp
            return Rule(direction: .egress, proto: proto, ports: [PortRange(port)], remote: .cidr(sourceCIDR(&rng)))
        }
    }

    func remoteGroup(for g: Int, _ rng: inout SplitMix64) -> String {
        let own = tenantGroups[groups[g].tenant]
        let candidates = own.stateful.count + own.stateless.count
        let k = rng.below(candidates)
        let index = k < own.stateful.count ? own.stateful[k] : own.stateless[k - own.stateful.count]
        return groups[index].name
    }

    func servicePorts(_ rng: inout SplitMix64) -> ([PortRange], IPProtocol) {
        switch rng.below(6) {
        case 0: return ([PortRange(80), PortRange(443)], .tcp)
        case 1: return ([PortRange(22)], .tcp)
        case 2: return ([PortRange(8000, 8100)], .tcp)
        case 3: return ([PortRange(30000, 32767)], .tcp)
        case 4: return ([PortRange(53)], .udp)
        default: return ([PortRange(3868)], .sctp)
        }
    }

    func sourceCIDR(_ rng: inout SplitMix64) -> IPPrefix {
        switch rng.below(6) {
        case 0, 1: return v4(0, 0)
        case 2: return v4(0xcb00_7100, 24)  // 203.0.113.0/24
        case 3: return v4(0x0a00_0000 | UInt32(rng.below(256)) << 16, 16)
        case 4: return v4(0xc633_6400 | UInt32(rng.below(16)) << 4, 28)  // 198.51.100.x/28
        default: return IPPrefix(address: .v6(IPv6Address(rawValue: UInt128(0x2001_0db8) << 96 | UInt128(rng.below(0x10000)) << 80)), length: 48)!
        }
    }

    func v4(_ raw: UInt32, _ length: Int) -> IPPrefix {
        IPPrefix(address: .v4(IPv4Address(rawValue: raw)), length: length)!
    }

    // MARK: ports

    mutating func makePorts() -> [Port] {
        var rng = stream(6)
        let count = shape.ports
        guard count > 0 else {
            assignSubnets()
            return []
        }
        // Where each port is: every network and every host gets one first
        // (as far as there are ports), the rest go by network weights that
        // make a few networks big and most small. A port's host is always in
        // its network's window.
        var placements: [(network: Int, host: Int)] = []
        placements.reserveCapacity(count)
        for n in networks.indices where placements.count < count {
            placements.append((n, rng.pick(networks[n].hostWindow)))
        }
        var networksOfHost = [[Int]](repeating: [], count: hosts.count)
        for n in networks.indices {
            for h in networks[n].hostWindow { networksOfHost[h].append(n) }
        }
        for h in hosts.indices where placements.count < count && !networksOfHost[h].isEmpty {
            placements.append((rng.pick(networksOfHost[h]), h))
        }
        var cumulative: [Int] = []
        cumulative.reserveCapacity(networks.count)
        var total = 0
        for _ in networks.indices {
            total += rng.pick([1, 1, 1, 2, 2, 3, 4, 6, 10, 16])
            cumulative.append(total)
        }
        while placements.count < count {
            let n = firstIndex(in: cumulative, above: rng.below(total))
            placements.append((n, rng.pick(networks[n].hostWindow)))
        }
        rng.shuffle(&placements)

        // Which ports get port security off or an address pair, before the
        // subnets are sized.
        var kinds = [UInt8](repeating: 0, count: count)  // 0 normal, 1 security off, 2 address pair
        for p in 0..<count {
            let roll = rng.below(1000)
            kinds[p] = roll < 10 ? 1 : roll < 40 ? 2 : 0
            networks[placements[p].network].portCount += 1
            if kinds[p] == 2 { networks[placements[p].network].pairCount += 1 }
        }
        assignSubnets()

        var devicesOnHost = [Int](repeating: 0, count: hosts.count)
        let width = digits(count)
        var ports: [Port] = []
        ports.reserveCapacity(count)
        for p in 0..<count {
            let (n, h) = placements[p]
            let device = "tap\(devicesOnHost[h])"
            devicesOnHost[h] += 1
            var port = Port(
                name: "port" + padded(p + 1, width), host: hosts[h].name, device: device,
                network: networks[n].network.name, mac: mac(p), ips: nextAddresses(network: n))
            if kinds[p] == 1 {
                port.portSecurity = false
            } else {
                port.securityGroups = pickGroups(tenant: networks[n].tenant, &rng)
                if kinds[p] == 2 { port.allowedAddressPairs = [addressPair(network: n, &rng)] }
            }
            ports.append(port)
        }
        return ports
    }

    /// Unique locally administered MACs 52:54:xx:xx:xx:xx: the port number
    /// times an odd constant is a bijection on 32 bits, so they look random.
    func mac(_ p: Int) -> MACAddress {
        MACAddress(rawValue: 0x5254_0000_0000 | UInt64(UInt32(truncatingIfNeeded: (p + 1) &* 0x9e37_79b1)))
    }

    /// 1...groupsPerPort distinct groups of the tenant, all of one kind.
    func pickGroups(tenant: Int, _ rng: inout SplitMix64) -> [String] {
        let own = tenantGroups[tenant]
        let total = own.stateful.count + own.stateless.count
        guard total > 0 else { return [] }
        let k = rng.below(total)
        let pool = k < own.stateful.count ? own.stateful : own.stateless
        let first = k < own.stateful.count ? own.stateful[k] : own.stateless[k - own.stateful.count]
        var chosen = [first]
        let wanted = min(1 + rng.below(shape.groupsPerPort), pool.count)
        var attempts = 0
        while chosen.count < wanted, attempts < 4 * wanted {
            let candidate = rng.pick(pool)
            if !chosen.contains(candidate) { chosen.append(candidate) }
            attempts += 1
        }
        return chosen.map { groups[$0].name }
    }

    /// A virtual IP of the network (keepalived, a load balancer), sometimes
    /// with the VRRP MAC.
    mutating func addressPair(network n: Int, _ rng: inout SplitMix64) -> AddressPair {
        let vip = nextAddresses(network: n)[0]
        let mac = rng.chance(25) ? MACAddress(rawValue: 0x0000_5e00_0100 | UInt64(1 + rng.below(255))) : nil
        return AddressPair(ip: IPPrefix(host: vip), mac: mac)
    }

    /// The first index whose cumulative weight is above `value`.
    func firstIndex(in cumulative: [Int], above value: Int) -> Int {
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] > value { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

// MARK: - Names

/// Number of decimal digits of `n` (at least 1).
private func digits(_ n: Int) -> Int {
    var count = 1
    var rest = n
    while rest >= 10 {
        rest /= 10
        count += 1
    }
    return count
}

/// `n` in decimal, zero-padded to `width`, so names sort in creation order.
private func padded(_ n: Int, _ width: Int) -> String {
    let text = String(n)
    let missing = width - text.utf8.count
    return missing > 0 ? String(repeating: "0", count: missing) + text : text
}
