import PolicyModel

// The nftables objects of a host as plain values: tables, chains with their
// rules, sets and maps with their elements. The vocabulary is nft's own; the
// rule expressions are a closed set, exactly what the compiler emits, so that
// the text renderer and the netlink codec each have one case to handle per
// kind of expression.

public enum NFTFamily: String, Hashable, Sendable, Codable, Comparable {
    case bridge, inet

    public static func < (a: NFTFamily, b: NFTFamily) -> Bool { a.rawValue < b.rawValue }
}

/// A table is named by family and name: `inet secgroups`.
public struct NFTTableID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var family: NFTFamily
    public var name: String

    public init(_ family: NFTFamily, _ name: String) {
        self.family = family
        self.name = name
    }

    public static func < (a: NFTTableID, b: NFTTableID) -> Bool { (a.family, a.name) < (b.family, b.name) }
    public var description: String { "\(family.rawValue) \(name)" }
}

public struct NFTTable: Hashable, Sendable, Codable {
    public var id: NFTTableID
    public var sets: [String: NFTSet]
    public var chains: [String: NFTChain]

    public init(id: NFTTableID, sets: [NFTSet] = [], chains: [NFTChain] = []) {
        self.id = id
        self.sets = Dictionary(uniqueKeysWithValues: sets.map { ($0.name, $0) })
        self.chains = Dictionary(uniqueKeysWithValues: chains.map { ($0.name, $0) })
    }

    /// The table's shape without contents: set definitions without elements
    /// and base-chain hooks. When this changes, the table is rebuilt.
    var skeleton: Skeleton {
        Skeleton(
            sets: sets.mapValues { $0.definition },
            baseChains: chains.compactMapValues { $0.base })
    }

    struct Skeleton: Hashable {
        var sets: [String: NFTSet.Definition]
        var baseChains: [String: NFTBaseChain]
    }
}

public enum NFTHook: String, Hashable, Sendable, Codable {
    case prerouting, input, forward, output, postrouting
}

/// What makes a chain a base chain: the hook it is attached to.
public struct NFTBaseChain: Hashable, Sendable, Codable {
    public var hook: NFTHook
    public var priority: Int32
    public var policy: NFTVerdict

    public init(hook: NFTHook, priority: Int32, policy: NFTVerdict = .accept) {
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }
}

public struct NFTChain: Hashable, Sendable, Codable {
    public var name: String
    public var base: NFTBaseChain?
    public var comment: String?
    public var rules: [NFTRule]

    public init(name: String, base: NFTBaseChain? = nil, comment: String? = nil, rules: [NFTRule] = []) {
        self.name = name
        self.base = base
        self.comment = comment
        self.rules = rules
    }
}

/// One rule: all matches must hold, then the statements run, then the verdict.
public struct NFTRule: Hashable, Sendable, Codable {
    public var matches: [NFTMatch]
    public var statements: [NFTStatement]
    public var verdict: NFTVerdict?
    public var comment: String?

    public init(
        _ matches: [NFTMatch] = [], statements: [NFTStatement] = [], verdict: NFTVerdict? = nil,
        comment: String? = nil
    ) {
        self.matches = matches
        self.statements = statements
        self.verdict = verdict
        self.comment = comment
    }
}

/// The packet fields and metadata that rules look at.
public enum NFTSelector: Hashable, Sendable, Codable {
    case iifname, oifname
    /// `meta mark`, or `meta mark & mask`.
    case mark(mask: UInt32?)
    case nfproto, l4proto
    case etherType, etherSaddr, etherDaddr, vlanID
    /// `arp saddr ether` and `arp saddr ip`: the sender's hardware and protocol address.
    case arpSenderMAC, arpSenderIP
    case ipSaddr, ipDaddr, ip6Saddr, ip6Daddr
    /// `th sport`, `th dport`: the ports of tcp, udp or sctp (after an
    /// l4proto match). One selector per header field, not per protocol, so
    /// that a rule read back from the kernel maps to exactly one selector.
    case transportSport, transportDport
    case icmpType, icmpCode, icmpv6Type, icmpv6Code
    case ctState, ctDirection
}

public enum NFTValue: Hashable, Sendable, Codable {
    case integer(UInt64)
    case range(UInt64, UInt64)
    case ifname(String)
    /// Interface names starting with the prefix: nft's `"sgbr-*"`.
    case ifnamePrefix(String)
    case mac(MACAddress)
    case address(IPRange)
}

public enum NFTCompare: String, Hashable, Sendable, Codable {
    case equal = "==", notEqual = "!="
}

public enum NFTMatch: Hashable, Sendable, Codable {
    /// `selector value` or `selector != value`.
    case compare(NFTSelector, NFTCompare, NFTValue)
    /// `selector { v1, v2, lo-hi }`: an anonymous set.
    case anyOf(NFTSelector, [NFTValue])
    /// `s1 . s2 @set` or `s1 . s2 != @set`: a lookup in a named set.
    case lookup([NFTSelector], NFTCompare, set: String)
}

public enum NFTMarkExpression: Hashable, Sendable, Codable {
    case constant(UInt32)
    /// `meta mark | bits`
    case or(UInt32)
    /// `meta mark & mask`: clears the bits not in `mask`.
    case and(UInt32)
    /// `selector map @name`
    case map(NFTSelector, String)
}

public enum NFTStatement: Hashable, Sendable, Codable {
    /// Counts the rule's packets and bytes. The values live in the kernel
    /// only: they are not part of the rule (a ticking counter is no change).
    case counter
    /// `limit rate N/second burst B packets`: ends the rule for packets
    /// over the rate, so the statements after it run for at most that many.
    case limit(perSecond: UInt32, burst: UInt32)
    /// `log prefix "..." group N`: a copy of the packet to NFLOG group N.
    case log(group: UInt16, prefix: String)
    case setMark(NFTMarkExpression)
    /// `ct zone set selector map @name`
    case setCTZone(NFTSelector, map: String)
    case notrack
}

public enum NFTVerdict: Hashable, Sendable, Codable {
    case accept, drop, `return`
    case jump(String)
    case goto(String)
    /// `selector vmap @name`: the verdict comes from a verdict map.
    case vmap(NFTSelector, String)

    /// The chain this verdict passes control to, if any.
    public var target: String? {
        switch self {
        case .jump(let c), .goto(let c): c
        default: nil
        }
    }
}

/// The type of one component of a set key or of a map's data.
public enum NFTDataType: String, Hashable, Sendable, Codable {
    case ifname, etherAddr, ipv4Addr, ipv6Addr, mark, ctZone, vlanID, verdict
}

public struct NFTSet: Hashable, Sendable, Codable {
    public struct Definition: Hashable, Sendable, Codable {
        public var key: [NFTDataType]
        /// Maps have data; plain sets don't.
        public var data: NFTDataType?
        public var interval: Bool
        public var comment: String?

        public init(key: [NFTDataType], data: NFTDataType? = nil, interval: Bool = false, comment: String? = nil) {
            self.key = key
            self.data = data
            self.interval = interval
            self.comment = comment
        }
    }

    public var name: String
    public var definition: Definition
    public var elements: Set<NFTElement>

    public init(
        name: String, key: [NFTDataType], data: NFTDataType? = nil, interval: Bool = false, comment: String? = nil,
        elements: Set<NFTElement> = []
    ) {
        self.name = name
        self.definition = Definition(key: key, data: data, interval: interval, comment: comment)
        self.elements = elements
    }

    public var isMap: Bool { definition.data != nil }

    /// Elements in order, so equal sets encode to equal bytes (a `Set`
    /// encodes in its hash order, which differs from process to process).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(definition, forKey: .definition)
        try c.encode(elements.sorted(), forKey: .elements)
    }
}

/// One component of an element key.
public enum NFTAtom: Hashable, Sendable, Codable, Comparable {
    case integer(UInt32)
    case ifname(String)
    case mac(MACAddress)
    /// An address, prefix or range (in interval sets).
    case address(IPRange)
}

public enum NFTElementData: Hashable, Sendable, Codable {
    case mark(UInt32)
    case zone(UInt16)
    case verdict(NFTVerdict)
}

public struct NFTElement: Hashable, Sendable, Codable, Comparable {
    public var key: [NFTAtom]
    public var data: NFTElementData?

    public init(_ key: [NFTAtom], data: NFTElementData? = nil) {
        self.key = key
        self.data = data
    }

    public static func < (a: NFTElement, b: NFTElement) -> Bool {
        a.key.lexicographicallyPrecedes(b.key)
    }
}
