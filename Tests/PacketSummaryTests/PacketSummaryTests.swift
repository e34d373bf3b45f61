import PolicyModel
import Testing
import PacketSummary

/// Packets built byte by byte, as the wire has them (checksums left 0: the
/// reader never looks at them).
enum Bytes {
    static func ipv4(_ source: String, _ destination: String, protocol number: UInt8, payload: [UInt8],
                     options: [UInt8] = [], fragmentOffset: UInt16 = 0) -> [UInt8] {
        let headerLength = 20 + options.count
        let total = UInt16(headerLength + payload.count)
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xFF), 0x12, 0x34]
        header += be16(fragmentOffset)  // flags 0, offset in 8-byte units
        header += [64, number, 0, 0]
        header += be32(IPv4Address(source)!.rawValue) + be32(IPv4Address(destination)!.rawValue)
        return header + options + payload
    }

    static func ipv6(_ source: String, _ destination: String, nextHeader: UInt8, payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [nextHeader, 64]
        header += be128(IPv6Address(source)!.rawValue) + be128(IPv6Address(destination)!.rawValue)
        return header + payload
    }

    /// A 20-byte TCP header.
    static func tcp(_ sourcePort: UInt16, _ destinationPort: UInt16, flags: UInt8) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
    }

    static func udp(_ sourcePort: UInt16, _ destinationPort: UInt16, data: [UInt8] = []) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + data.count)) + [0, 0] + data
    }

    static func icmp(type: UInt8, code: UInt8) -> [UInt8] { [type, code, 0, 0, 0, 1, 0, 1] }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func be32(_ value: UInt32) -> [UInt8] { be16(UInt16(value >> 16)) + be16(UInt16(value & 0xFFFF)) }
    static func be128(_ value: UInt128) -> [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: value >> (8 * (15 - $0))) } }
}

@Suite("PacketSummary")
struct PacketSummaryTests {
    @Test func anIPv4TCPSynGivesAddressesPortsFlagsAndLength() {
        let summary = PacketSummary(packet: Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 6, payload: Bytes.tcp(40000, 22, flags: 0x02)))
        #expect(summary.family == .ipv4)
        #expect(summary.source == IPAddress("10.0.0.1"))
        #expect(summary.destination == IPAddress("10.0.0.2"))
        #expect(summary.transport == .tcp)
        #expect(summary.sourcePort == 40000 && summary.destinationPort == 22)
        #expect(summary.tcpFlags == .syn)
        #expect(summary.length == 40)
        #expect(summary.problem == nil)
        #expect(summary.description == "tcp 10.0.0.1:40000 -> 10.0.0.2:22 [syn]")
    }

    @Test func ipv4OptionsAreSkippedToFindTheTransportHeader() {
        let options: [UInt8] = [0x94, 0x04, 0, 0]  // router alert
        let summary = PacketSummary(packet: Bytes.ipv4("192.168.1.1", "192.168.1.2", protocol: 17, payload: Bytes.udp(5353, 53), options: options))
        #expect(summary.sourcePort == 5353 && summary.destinationPort == 53)
        #expect(summary.description == "udp 192.168.1.1:5353 -> 192.168.1.2:53")
    }

    @Test func anIPv4EchoRequestGivesTypeAndCode() {
        let summary = PacketSummary(packet: Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 1, payload: Bytes.icmp(type: 8, code: 0)))
        #expect(summary.transport == .icmp && summary.icmpType == 8 && summary.icmpCode == 0)
        #expect(summary.sourcePort == nil)
        #expect(summary.description == "icmp 10.0.0.1 -> 10.0.0.2 type 8 code 0")
    }

    @Test func anIPv6UDPDatagramGivesBracketedEndpoints() {
        let summary = PacketSummary(packet: Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 17, payload: Bytes.udp(40001, 9, data: Array("hi".utf8))))
        #expect(summary.family == .ipv6)
        #expect(summary.length == 50)
        #expect(summary.description == "udp [fd00::1]:40001 -> [fd00::2]:9")
    }

    @Test func anIPv6TCPSynAckAfterAHopByHopHeaderIsFound() {
        let hopByHop: [UInt8] = [6, 0, 1, 4, 0, 0, 0, 0]  // next: TCP; 8 bytes of padding options
        let summary = PacketSummary(packet: Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 0, payload: hopByHop + Bytes.tcp(22, 40000, flags: 0x12)))
        #expect(summary.transport == .tcp)
        #expect(summary.tcpFlags == [.syn, .ack])
        #expect(summary.description == "tcp [fd00::1]:22 -> [fd00::2]:40000 [syn,ack]")
    }

    @Test func anICMPv6NeighborSolicitationGivesTypeAndCode() {
        let summary = PacketSummary(packet: Bytes.ipv6("fe80::1", "ff02::1:ff00:2", nextHeader: 58, payload: Bytes.icmp(type: 135, code: 0)))
        #expect(summary.transport == .icmpv6)
        #expect(summary.description == "icmpv6 fe80::1 -> ff02::1:ff00:2 type 135 code 0")
    }

    @Test func laterFragmentsHaveNoPortsAndSaySo() {
        let v4 = PacketSummary(packet: Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 17, payload: [1, 2, 3, 4, 5, 6, 7, 8], fragmentOffset: 185))
        #expect(v4.isLaterFragment && v4.sourcePort == nil)
        #expect(v4.description == "udp 10.0.0.1 -> 10.0.0.2 (fragment)")

        let fragment: [UInt8] = [17, 0] + Bytes.be16(185 << 3) + [0, 0, 0, 7]
        let v6 = PacketSummary(packet: Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 44, payload: fragment + [1, 2, 3, 4]))
        #expect(v6.isLaterFragment && v6.transport == .udp && v6.sourcePort == nil)
    }

    @Test func aFirstIPv6FragmentStillHasItsPorts() {
        let fragment: [UInt8] = [17, 0, 0, 1, 0, 0, 0, 7]  // offset 0, more fragments
        let summary = PacketSummary(packet: Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 44, payload: fragment + Bytes.udp(1000, 2000)))
        #expect(!summary.isLaterFragment && summary.sourcePort == 1000 && summary.destinationPort == 2000)
    }

    @Test func otherProtocolsAreNamedByNumber() {
        let summary = PacketSummary(packet: Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 47, payload: [0, 0, 0x08, 0]))
        #expect(summary.transport == .number(47))
        #expect(summary.description == "47 10.0.0.1 -> 10.0.0.2")
    }

    @Test func sctpHasPorts() {
        let summary = PacketSummary(packet: Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 132, payload: Bytes.be16(3868) + Bytes.be16(3868) + [0, 0, 0, 0]))
        #expect(summary.description == "sctp 10.0.0.1:3868 -> 10.0.0.2:3868")
    }

    // MARK: what can't be read

    @Test func aTCPHeaderCutAfterThePortsKeepsThePortsAndSaysWhatIsMissing() {
        let full = Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 6, payload: Bytes.tcp(40000, 22, flags: 0x02))
        let summary = PacketSummary(packet: Array(full.prefix(26)))
        #expect(summary.sourcePort == 40000 && summary.destinationPort == 22)
        #expect(summary.tcpFlags == nil)
        #expect(summary.length == 40, "the length comes from the header, not from the bytes copied")
        #expect(summary.problem == "truncated TCP header (6 of 14 bytes)")
        #expect(summary.description == "tcp 10.0.0.1:40000 -> 10.0.0.2:22 (truncated TCP header (6 of 14 bytes))")
    }

    @Test func aCutIPv6HeaderHasNoAddresses() {
        let full = Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 6, payload: Bytes.tcp(1, 2, flags: 0))
        let summary = PacketSummary(packet: Array(full.prefix(30)))
        #expect(summary.family == .ipv6 && summary.source == nil)
        #expect(summary.description == "ipv6 (truncated IPv6 header (30 of 40 bytes))")
    }

    @Test func aCutExtensionHeaderIsReported() {
        let summary = PacketSummary(packet: Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 60, payload: [6, 3, 0, 0]))
        #expect(summary.problem == "truncated IPv6 extension header 60 (4 of 32 bytes)")
        #expect(summary.source == IPAddress("fd00::1"))
    }

    @Test func anIPv4HeaderLengthBelowTheMinimumIsReportedNotFollowed() {
        var bytes = Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 6, payload: Bytes.tcp(1, 2, flags: 0))
        bytes[0] = 0x42
        let summary = PacketSummary(packet: bytes)
        #expect(summary.source == IPAddress("10.0.0.1") && summary.sourcePort == nil)
        #expect(summary.problem == "IPv4 header length 8 is below 20")
    }

    @Test func optionsLongerThanThePacketAreReported() {
        var bytes = Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 6, payload: [])
        bytes[0] = 0x4F  // 60-byte header in a 20-byte packet
        let summary = PacketSummary(packet: bytes)
        #expect(summary.problem == "truncated IPv4 options (20 of 60 bytes)")
    }

    @Test func emptyAndNonIPBytesAreSaidToBeSo() {
        #expect(PacketSummary(packet: []).description == "? (empty packet)")
        #expect(PacketSummary(packet: [0x00, 0x01]).problem == "not IPv4 or IPv6 (version 0)")
    }

    /// Every prefix of every packet above reads without trapping, and never
    /// claims more than the bytes hold.
    @Test func everyPrefixOfEveryPacketReadsWithoutTrapping() {
        let packets = [
            Bytes.ipv4("10.0.0.1", "10.0.0.2", protocol: 6, payload: Bytes.tcp(40000, 22, flags: 0x02), options: [1, 1, 1, 0]),
            Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 0, payload: [44, 0, 1, 4, 0, 0, 0, 0] + [6, 0, 0, 0, 0, 0, 0, 1] + Bytes.tcp(1, 2, flags: 0x11)),
            Bytes.ipv6("fd00::1", "fd00::2", nextHeader: 51, payload: [58, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + Bytes.icmp(type: 128, code: 0)),
        ]
        for packet in packets {
            let whole = PacketSummary(packet: packet)
            #expect(whole.problem == nil && whole.sourcePort != nil || whole.icmpType != nil, "whole packet: \(whole)")
            for count in 0..<packet.count {
                // Cut short, it either says what is missing or had all it needed.
                let summary = PacketSummary(packet: Array(packet.prefix(count)))
                #expect(summary.problem != nil || summary == whole, "\(count) bytes of \(packet.count): \(summary)")
                _ = summary.description
            }
        }
        // The same header bytes with random garbage behind them.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 0...80, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty { bytes[0] = [0x45, 0x4F, 0x60, 0x41][Int.random(in: 0...3, using: &generator)] }
            _ = PacketSummary(packet: bytes).description
        }
    }
}
