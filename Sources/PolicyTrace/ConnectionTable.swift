import PolicyModel

/// One host's connection tracking, as much of it as a trace needs: the
/// connections its packets opened (per zone), so that the answer finds its
/// connection and is `established`, and the state the kernel gives a packet
/// that belongs to none (nf_conntrack_proto_icmp.c, _icmpv6.c).
struct ConnectionTable {
    private struct Key: Hashable {
        var zone: UInt16
        var source: IPAddress
        var destination: IPAddress
        var proto: UInt8
        var sourcePort: UInt16?
        var destinationPort: UInt16?
        /// ICMP queries: the request's type (a reply is filed under it).
        var query: UInt8?
    }

    private var connections = Set<Key>()

    /// The packet's state, and whether it is the reply direction of a connection.
    func state(of packet: Packet, zone: UInt16) -> (state: ConnectionState, isReply: Bool) {
        if connections.contains(Self.key(ofReply: packet, zone: zone)) { return (.established, true) }
        return (Self.firstPacketState(packet), false)
    }

    /// A packet that opened a connection and was let through: conntrack
    /// confirms the connection (a dropped packet's is never confirmed).
    mutating func confirm(_ packet: Packet, zone: UInt16) {
        connections.insert(Self.key(packet, zone: zone))
    }

    /// What conntrack makes of a packet of no known connection.
    static func firstPacketState(_ packet: Packet) -> ConnectionState {
        switch packet.proto {
        case 1:
            // Only queries open connections; errors and replies of no connection are invalid.
            return [8, 13, 15, 17].contains(packet.icmpType ?? 0) ? .new : .invalid
        case 58:
            if [128, 139].contains(packet.icmpType ?? 0) { return .new }
            // MLD, router and neighbour discovery are left untracked on purpose.
            if let type = packet.icmpType, (130...136).contains(type) || type == 143 { return .untracked }
            return .invalid
        default:
            return .new  // a TCP SYN, a UDP datagram, an SCTP INIT, another protocol's packet
        }
    }

    private static func key(_ packet: Packet, zone: UInt16) -> Key {
        Key(
            zone: zone, source: packet.source, destination: packet.destination, proto: packet.proto,
            sourcePort: packet.sourcePort, destinationPort: packet.destinationPort,
            query: packet.hasPorts ? nil : packet.icmpType)
    }

    private static func key(ofReply packet: Packet, zone: UInt16) -> Key {
        var query = packet.hasPorts ? nil : packet.icmpType
        if let type = packet.icmpType, let request = Packet.icmpAnswers[packet.proto]?.first(where: { $0.value == type })?.key {
            query = request
        }
        return Key(
            zone: zone, source: packet.destination, destination: packet.source, proto: packet.proto,
            sourcePort: packet.destinationPort, destinationPort: packet.sourcePort, query: query)
    }
}
