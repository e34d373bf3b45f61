import PolicyModel

/// What a trace asks about: the first packet of a connection from one
/// endpoint to another (a TCP SYN, a UDP datagram, an ICMP echo request...).
public struct Probe: Hashable, Sendable {
    public var proto: IPProtocol
    /// tcp, udp and sctp only.
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// icmp and icmpv6 only.
    public var icmpType: UInt8?
    public var icmpCode: UInt8?

    /// The source port of a connection when none is given: the first of the
    /// IANA ephemeral range, where clients' ports come from.
    public static let defaultSourcePort: UInt16 = 49152

    /// What `--proto any` traces: a protocol no rule names (253 is reserved
    /// for experiments, RFC 3692), so only rules for every protocol admit it.
    public static let anyProtocolStandIn: UInt8 = 253

    public init(proto: IPProtocol, sourcePort: UInt16? = nil, destinationPort: UInt16? = nil, icmpType: UInt8? = nil, icmpCode: UInt8? = nil) {
        self.proto = proto
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.icmpType = icmpType
        self.icmpCode = icmpCode
    }

    public static func tcp(_ port: UInt16, from sourcePort: UInt16? = nil) -> Probe {
        Probe(proto: .tcp, sourcePort: sourcePort, destinationPort: port)
    }

    public static func udp(_ port: UInt16, from sourcePort: UInt16? = nil) -> Probe {
        Probe(proto: .udp, sourcePort: sourcePort, destinationPort: port)
    }

    /// An echo request of the family: ICMP type 8 or ICMPv6 type 128.
    public static func ping(_ family: IPFamily) -> Probe {
        family == .ipv4 ? Probe(proto: .icmp, icmpType: 8, icmpCode: 0) : Probe(proto: .icmpv6, icmpType: 128, icmpCode: 0)
    }

    /// The problems of a probe on its own, one message each ("--dport is
    /// needed for tcp"); the option names are the CLI's.
    public var problems: [String] {
        var problems: [String] = []
        if proto.hasPorts {
            if destinationPort == nil { problems.append("--dport is needed for \(proto)") }
            if destinationPort == 0 || sourcePort == 0 { problems.append("ports are 1-65535") }
        } else if destinationPort != nil || sourcePort != nil {
            problems.append("--dport and --sport apply to tcp, udp and sctp only, not \(proto)")
        }
        if !proto.isICMP && (icmpType != nil || icmpCode != nil) {
            problems.append("--icmp-type and --icmp-code apply to icmp and icmpv6 only, not \(proto)")
        }
        if icmpCode != nil && icmpType == nil { problems.append("--icmp-code needs --icmp-type") }
        return problems
    }

    /// The IP family the protocol belongs to, if only one: ICMP is IPv4's,
    /// ICMPv6 IPv6's.
    var impliedFamily: IPFamily? {
        switch proto {
        case .icmp: .ipv4
        case .icmpv6: .ipv6
        default: nil
        }
    }
}
