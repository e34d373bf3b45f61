import PolicyModel

/// The headers of one IP packet in an Ethernet frame: what the rules of a
/// ruleset can look at, apart from the metadata the path adds (`HookContext`).
public struct Packet: Hashable, Sendable {
    /// Nil when the sender or the next hop is outside the policy: its MAC
    /// is unknown, and no rule of ours can match it.
    public var sourceMAC: MACAddress?
    public var destinationMAC: MACAddress?
    public var source: IPAddress
    public var destination: IPAddress
    /// The IP protocol number.
    public var proto: UInt8
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    public var icmpType: UInt8?
    public var icmpCode: UInt8?

    public var family: IPFamily { source.family }

    public static let etherTypeIPv4: UInt64 = 0x0800
    public static let etherTypeIPv6: UInt64 = 0x86dd
    public static let etherTypeVLAN: UInt64 = 0x8100

    /// Protocols whose header starts with a source and a destination port
    /// (what `th sport`/`th dport` read): tcp, udp, dccp, sctp, udplite.
    static let portProtocols: Set<UInt8> = [6, 17, 33, 132, 136]
    var hasPorts: Bool { Self.portProtocols.contains(proto) }

    /// The answer to this packet: addresses, MACs and ports swapped; an echo
    /// request answered by an echo reply. Nil for ICMP messages that get no
    /// answer (errors, replies, neighbour discovery).
    public var reply: Packet? {
        var reply = self
        (reply.source, reply.destination) = (destination, source)
        (reply.sourcePort, reply.destinationPort) = (destinationPort, sourcePort)
        (reply.sourceMAC, reply.destinationMAC) = (destinationMAC, sourceMAC)
        if proto == 1 || proto == 58 {
            guard let type = icmpType, let answer = Self.icmpAnswers[proto]?[type] else { return nil }
            reply.icmpType = answer
        }
        return reply
    }

    /// Query type → reply type, per protocol (1 ICMP, 58 ICMPv6): echo,
    /// timestamp, information, address mask; echo and node information.
    static let icmpAnswers: [UInt8: [UInt8: UInt8]] = [1: [8: 0, 13: 14, 15: 16, 17: 18], 58: [128: 129, 139: 140]]

    var protocolName: String {
        switch proto {
        case 1: "icmp"
        case 6: "tcp"
        case 17: "udp"
        case 58: "icmpv6"
        case 132: "sctp"
        default: "protocol \(proto)"
        }
    }

    /// `tcp 10.0.0.1:49152 -> 10.0.0.2:80`, `icmp 10.0.0.1 -> 10.0.0.2 type 8 code 0`.
    public var summary: String {
        func endpoint(_ address: IPAddress, _ port: UInt16?) -> String {
            guard let port else { return "\(address)" }
            return address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        }
        var text = "\(protocolName) \(endpoint(source, sourcePort)) -> \(endpoint(destination, destinationPort))"
        if let icmpType { text += " type \(icmpType)" + (icmpCode.map { " code \($0)" } ?? "") }
        return text
    }
}
