import PolicyModel

/// What the first bytes of an IP packet say: its family, addresses,
/// transport protocol and ports or ICMP type, as far as the bytes go.
/// Logged packets come cut at a copy range and a hook can see odd packets,
/// so reading never traps: whatever can't be read stays nil and `problem`
/// says why reading stopped.
///
/// Text form, as `sgctl watch` prints it:
/// `tcp 10.0.0.1:40000 -> 10.0.0.2:22 [syn]`, `icmp 10.0.0.1 -> 10.0.0.2 type 8 code 0`.
public struct PacketSummary: Hashable, Sendable {
    /// By the header's version field; nil when it is neither 4 nor 6.
    public var family: IPFamily?
    public var source: IPAddress?
    public var destination: IPAddress?
    /// The transport protocol: IPv4's protocol field, or IPv6's last next
    /// header after the extension headers.
    public var transport: IPProtocol?
    /// The whole packet's length by its header (IPv4 total length, IPv6 40
    /// plus payload length), however many bytes were copied.
    public var length: Int?
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    public var tcpFlags: TCPFlags?
    /// True for a fragment after the first: it carries no transport header.
    public var isLaterFragment = false
    /// Why reading stopped early: "truncated TCP header (6 of 14 bytes)".
    public var problem: String?

    public init() {}

    /// Reads a packet from its network header on (an NFLOG payload).
    public init(packet bytes: [UInt8]) {
        var reader = Reader(bytes: bytes)
        guard let first = reader.byte(at: 0) else {
            problem = "empty packet"
            return
        }
        switch first >> 4 {
        case 4: readIPv4(&reader)
        case 6: readIPv6(&reader)
        default: problem = "not IPv4 or IPv6 (version \(first >> 4))"
        }
    }

    // MARK: network layer

    private mutating func readIPv4(_ reader: inout Reader) {
        family = .ipv4
        guard reader.has(20) else { return truncated("IPv4 header", reader, need: 20) }
        let headerLength = Int(reader.byte(at: 0)! & 0x0F) * 4
        length = Int(reader.u16(at: 2)!)
        transport = IPProtocol(number: reader.byte(at: 9)!)
        source = .v4(IPv4Address(rawValue: reader.u32(at: 12)!))
        destination = .v4(IPv4Address(rawValue: reader.u32(at: 16)!))
        guard headerLength >= 20 else {
            problem = "IPv4 header length \(headerLength) is below 20"
            return
        }
        // Offset in 8-byte units, below the flags' 3 bits.
        if reader.u16(at: 6)! & 0x1FFF != 0 {
            isLaterFragment = true
            return
        }
        guard reader.has(headerLength) else { return truncated("IPv4 options", reader, need: headerLength) }
        reader.advance(headerLength)
        readTransport(&reader)
    }

    private mutating func readIPv6(_ reader: inout Reader) {
        family = .ipv6
        guard reader.has(40) else { return truncated("IPv6 header", reader, need: 40) }
        length = 40 + Int(reader.u16(at: 4)!)
        source = .v6(IPv6Address(rawValue: reader.u128(at: 8)!))
        destination = .v6(IPv6Address(rawValue: reader.u128(at: 24)!))
        var next = reader.byte(at: 6)!
        reader.advance(40)
        // Extension headers until the transport's (RFC 8200 section 4).
        while true {
            transport = IPProtocol(number: next)
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options: length in 8-byte units after the first 8
                guard reader.has(2) else { return truncated("IPv6 extension header \(next)", reader, need: 2) }
                let size = (Int(reader.byte(at: 1)!) + 1) * 8
                guard reader.has(size) else { return truncated("IPv6 extension header \(next)", reader, need: size) }
                next = reader.byte(at: 0)!
                reader.advance(size)
            case 44:  // fragment: 8 bytes, offset in the upper 13 bits of bytes 2-3
                guard reader.has(8) else { return truncated("IPv6 fragment header", reader, need: 8) }
                next = reader.byte(at: 0)!
                if reader.u16(at: 2)! >> 3 != 0 {
                    transport = IPProtocol(number: next)
                    isLaterFragment = true
                    return
                }
                reader.advance(8)
            case 51:  // authentication header: length in 4-byte units, minus 2
                guard reader.has(2) else { return truncated("IPv6 authentication header", reader, need: 2) }
                let size = (Int(reader.byte(at: 1)!) + 2) * 4
                guard reader.has(size) else { return truncated("IPv6 authentication header", reader, need: size) }
                next = reader.byte(at: 0)!
                reader.advance(size)
            default:
                readTransport(&reader)
                return
            }
        }
    }

    // MARK: transport layer

    private mutating func readTransport(_ reader: inout Reader) {
        switch transport {
        case .tcp:
            // Ports, then the flags in byte 13 (CWR and ECE included).
            guard reader.has(4) else { return truncated("TCP header", reader, need: 4) }
            readPorts(reader)
            guard reader.has(14) else { return truncated("TCP header", reader, need: 14) }
            tcpFlags = TCPFlags(rawValue: reader.byte(at: 13)!)
        case .udp, .sctp, .number(136):  // 136: UDP-Lite, ports where UDP has them
            guard reader.has(4) else { return truncated("\(transport!) header", reader, need: 4) }
            readPorts(reader)
        case .icmp, .icmpv6:
            guard reader.has(2) else { return truncated("\(transport!) header", reader, need: 2) }
            icmpType = reader.byte(at: 0)
            icmpCode = reader.byte(at: 1)
        default:
            break
        }
    }

    private mutating func readPorts(_ reader: Reader) {
        sourcePort = reader.u16(at: 0)
        destinationPort = reader.u16(at: 2)
    }

    private mutating func truncated(_ what: String, _ reader: Reader, need: Int) {
        problem = "truncated \(what) (\(reader.remaining) of \(need) bytes)"
    }
}

/// TCP header flags (byte 13), named as nft names them in `tcp flags`.
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ecn = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    private static let names: [(TCPFlags, String)] = [
        (.fin, "fin"), (.syn, "syn"), (.rst, "rst"), (.psh, "psh"), (.ack, "ack"), (.urg, "urg"), (.ecn, "ecn"), (.cwr, "cwr"),
    ]

    /// `syn,ack`, as nft prints a flags match; "none" for a packet with none.
    public var description: String {
        let set = Self.names.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "none" : set.joined(separator: ",")
    }
}

extension PacketSummary: CustomStringConvertible {
    /// `tcp 10.0.0.1:40000 -> 10.0.0.2:22 [syn]`, `tcp [fd00::1]:40000 -> [fd00::2]:22`,
    /// `icmp 10.0.0.1 -> 10.0.0.2 type 8 code 0`, `47 10.0.0.1 -> 10.0.0.2`;
    /// with what couldn't be read in parentheses at the end.
    public var description: String {
        var words: [String] = []
        if let transport {
            words.append(transport.description)
        } else {
            words.append(family?.rawValue ?? "?")
        }
        if let source, let destination {
            words.append("\(Self.endpoint(source, sourcePort)) -> \(Self.endpoint(destination, destinationPort))")
        }
        if let icmpType { words.append("type \(icmpType)" + (icmpCode.map { " code \($0)" } ?? "")) }
        if let tcpFlags { words.append("[\(tcpFlags)]") }
        if isLaterFragment { words.append("(fragment)") }
        if let problem { words.append("(\(problem))") }
        return words.joined(separator: " ")
    }

    /// An address with its port, IPv6 in brackets when a port follows (RFC 3986).
    static func endpoint(_ address: IPAddress, _ port: UInt16?) -> String {
        guard let port else { return address.description }
        switch address {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }
}

/// Bounds-checked big-endian reads from a position in the packet.
private struct Reader {
    let bytes: [UInt8]
    var offset = 0

    var remaining: Int { bytes.count - offset }
    func has(_ count: Int) -> Bool { remaining >= count }
    mutating func advance(_ count: Int) { offset += count }

    func byte(at position: Int) -> UInt8? {
        let index = offset + position
        return index >= 0 && index < bytes.count ? bytes[index] : nil
    }

    func u16(at position: Int) -> UInt16? { unsigned(at: position, size: 2).map { UInt16($0) } }
    func u32(at position: Int) -> UInt32? { unsigned(at: position, size: 4).map { UInt32($0) } }

    func u128(at position: Int) -> UInt128? {
        guard let high = unsigned(at: position, size: 8), let low = unsigned(at: position + 8, size: 8) else { return nil }
        return UInt128(high) << 64 | UInt128(low)
    }

    private func unsigned(at position: Int, size: Int) -> UInt64? {
        guard position >= 0, offset + position + size <= bytes.count else { return nil }
        var value: UInt64 = 0
        for i in 0..<size { value = value << 8 | UInt64(bytes[offset + position + i]) }
        return value
    }
}
