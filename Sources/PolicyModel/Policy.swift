/// The validated, typed model of policy.json format version 1
/// (../shared/policy-format.md). Every value here has passed validation:
/// names resolve, addresses are real addresses, ranges are in range.
public struct Policy: Hashable, Sendable {
    public static let supportedVersion = 1

    public var version: Int
    public var networks: [Network]
    public var hosts: [Host]
    public var securityGroups: [SecurityGroup]
    public var ports: [Port]

    public init(
        version: Int = Policy.supportedVersion, networks: [Network] = [], hosts: [Host] = [],
        securityGroups: [SecurityGroup] = [], ports: [Port] = []
    ) {
        self.version = version
        self.networks = networks
        self.hosts = hosts
        self.securityGroups = securityGroups
        self.ports = ports
    }
}

public struct Network: Hashable, Sendable {
    public var name: String
    public var segment: Segment
    public var subnets: [IPPrefix]

    public init(name: String, segment: Segment, subnets: [IPPrefix] = []) {
        self.name = name
        self.segment = segment
        self.subnets = subnets
    }
}

/// How a network's frames are kept apart from other networks' on the wire.
public enum Segment: Hashable, Sendable, CustomStringConvertible {
    case vlan(id: UInt16)
    case vxlan(vni: UInt32)

    public static let vlanIDs: ClosedRange<Int> = 1...4094
    public static let vnis: ClosedRange<Int> = 1...16_777_215

    public var description: String {
        switch self {
        case .vlan(let id): "vlan \(id)"
        case .vxlan(let vni): "vxlan vni \(vni)"
        }
    }
}

public struct Host: Hashable, Sendable {
    public var name: String
    /// The interface that carries segments to other hosts: the VLAN trunk, or
    /// the underlay device of VXLAN tunnels.
    public var uplink: String?
    /// This host's address on the underlay (VXLAN tunnel endpoint).
    public var vtep: IPAddress?

    public init(name: String, uplink: String? = nil, vtep: IPAddress? = nil) {
        self.name = name
        self.uplink = uplink
        self.vtep = vtep
    }
}

public struct SecurityGroup: Hashable, Sendable {
    public var name: String
    public var description: String?
    public var stateful: Bool
    public var rules: [Rule]

    public init(name: String, description: String? = nil, stateful: Bool = true, rules: [Rule] = []) {
        self.name = name
        self.description = description
        self.stateful = stateful
        self.rules = rules
    }
}

public enum Direction: String, Hashable, Sendable, CaseIterable, Codable {
    case ingress, egress
}

/// The IP protocol a rule matches. Numbers of protocols that have a name are
/// normalized to the name (6 is `.tcp`), so `ports` and `icmp` checks and the
/// compiler see one spelling.
public enum IPProtocol: Hashable, Sendable, CustomStringConvertible {
    case any, tcp, udp, sctp, icmp, icmpv6
    case number(UInt8)

    public init(number: UInt8) {
        switch number {
        case 1: self = .icmp
        case 6: self = .tcp
        case 17: self = .udp
        case 58: self = .icmpv6
        case 132: self = .sctp
        default: self = .number(number)
        }
    }

    public init?(name: String) {
        switch name {
        case "any": self = .any
        case "tcp": self = .tcp
        case "udp": self = .udp
        case "sctp": self = .sctp
        case "icmp": self = .icmp
        case "icmpv6": self = .icmpv6
        default: return nil
        }
    }

    public static let names = ["any", "tcp", "udp", "sctp", "icmp", "icmpv6"]

    /// The IANA protocol number, nil for `.any`.
    public var number: UInt8? {
        switch self {
        case .any: nil
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        case .icmp: 1
        case .icmpv6: 58
        case .number(let n): n
        }
    }

    public var hasPorts: Bool { self == .tcp || self == .udp || self == .sctp }
    public var isICMP: Bool { self == .icmp || self == .icmpv6 }

    public var description: String {
        switch self {
        case .any: "any"
        case .tcp: "tcp"
        case .udp: "udp"
        case .sctp: "sctp"
        case .icmp: "icmp"
        case .icmpv6: "icmpv6"
        case .number(let n): String(n)
        }
    }
}

/// An inclusive range of transport ports, 1...65535.
public struct PortRange: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var lower: UInt16
    public var upper: UInt16

    public init(_ lower: UInt16, _ upper: UInt16) {
        precondition(lower <= upper)
        self.lower = lower
        self.upper = upper
    }

    public init(_ port: UInt16) { self.init(port, port) }

    /// Parses "N" or "N-M". The error says what is wrong.
    public static func parse(_ text: String) -> Result<PortRange, AddressParseError> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        func number(_ s: Substring) -> Int? {
            guard !s.isEmpty, s.count <= 5, s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return Int(s)
        }
        guard parts.count == 1 || parts.count == 2 else {
            return .failure(AddressParseError(message: "\"\(text)\" is not a port or a port range \"N-M\""))
        }
        guard let low = number(parts[0]), let high = parts.count == 2 ? number(parts[1]) : low else {
            return .failure(AddressParseError(message: "\"\(text)\" is not a port or a port range \"N-M\""))
        }
        for p in [low, high] where p < 1 || p > 65535 {
            return .failure(AddressParseError(message: "port \(p) in \"\(text)\" is out of range 1-65535"))
        }
        guard low <= high else {
            return .failure(AddressParseError(message: "port range \"\(text)\" ends before it starts"))
        }
        return .success(PortRange(UInt16(low), UInt16(high)))
    }

    public static func < (a: PortRange, b: PortRange) -> Bool {
        (a.lower, a.upper) < (b.lower, b.upper)
    }

    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}

public struct ICMPMatch: Hashable, Sendable {
    public var type: UInt8
    public var code: UInt8?

    public init(type: UInt8, code: UInt8? = nil) {
        self.type = type
        self.code = code
    }
}

public enum Remote: Hashable, Sendable {
    /// Any address.
    case any
    case cidr(IPPrefix)
    /// The addresses (IPs and address pairs) of every port in the group.
    case group(String)
}

public enum EtherType: String, Hashable, Sendable, CaseIterable, Codable {
    case ipv4, ipv6

    public var family: IPFamily { self == .ipv4 ? .ipv4 : .ipv6 }
    public init(_ family: IPFamily) { self = family == .ipv4 ? .ipv4 : .ipv6 }
}

public struct Rule: Hashable, Sendable {
    public var direction: Direction
    public var proto: IPProtocol
    /// Empty means every port.
    public var ports: [PortRange]
    public var icmp: ICMPMatch?
    public var remote: Remote
    /// As written; nil means "both, or what remote/icmp imply" (see `families`).
    public var ethertype: EtherType?
    public var description: String?

    public init(
        direction: Direction, proto: IPProtocol = .any, ports: [PortRange] = [], icmp: ICMPMatch? = nil,
        remote: Remote = .any, ethertype: EtherType? = nil, description: String? = nil
    ) {
        self.direction = direction
        self.proto = proto
        self.ports = ports
        self.icmp = icmp
        self.remote = remote
        self.ethertype = ethertype
        self.description = description
    }

    /// The IP families the rule applies to: its ethertype, else the one its
    /// remote CIDR or ICMP protocol implies, else both.
    public var families: [IPFamily] {
        if let ethertype { return [ethertype.family] }
        if case .cidr(let prefix) = remote { return [prefix.family] }
        if proto == .icmp { return [.ipv4] }
        if proto == .icmpv6 { return [.ipv6] }
        return [.ipv4, .ipv6]
    }
}

public struct AddressPair: Hashable, Sendable {
    public var ip: IPPrefix
    public var mac: MACAddress?

    public init(ip: IPPrefix, mac: MACAddress? = nil) {
        self.ip = ip
        self.mac = mac
    }
}

/// A VM's virtual NIC.
public struct Port: Hashable, Sendable {
    public static let maxDeviceBytes = 15

    public var name: String
    public var host: String
    public var device: String
    public var network: String
    public var mac: MACAddress
    public var ips: [IPAddress]
    public var securityGroups: [String]
    public var allowedAddressPairs: [AddressPair]
    public var portSecurity: Bool
    /// Send the port's dropped packets to NFLOG, rate-limited (`"log": true`,
    /// an optional field this project adds to the format; see
    /// docs/policy-format-log.md). Only for ports with port security.
    public var log: Bool

    public init(
        name: String, host: String, device: String, network: String, mac: MACAddress, ips: [IPAddress] = [],
        securityGroups: [String] = [], allowedAddressPairs: [AddressPair] = [], portSecurity: Bool = true,
        log: Bool = false
    ) {
        self.name = name
        self.host = host
        self.device = device
        self.network = network
        self.mac = mac
        self.ips = ips
        self.securityGroups = securityGroups
        self.allowedAddressPairs = allowedAddressPairs
        self.portSecurity = portSecurity
        self.log = log
    }

    /// Every address the port may use as a source: its IPs and its address
    /// pairs, as prefixes.
    public var addressPrefixes: [IPPrefix] {
        ips.map { IPPrefix(host: $0) } + allowedAddressPairs.map(\.ip)
    }
}
