import Foundation  // JSONEncoder/JSONDecoder for the Codable round trips only
import Testing
@testable import PolicyModel

@Suite("Addresses")
struct AddressTests {
    // MARK: IPv4

    @Test("IPv4 valid forms", arguments: [
        ("0.0.0.0", UInt32(0)),
        ("255.255.255.255", 0xffff_ffff),
        ("10.1.0.5", 0x0a01_0005),
        ("192.168.100.1", 0xc0a8_6401),
        ("1.2.3.4", 0x0102_0304),
        ("100.0.10.0", 0x6400_0a00),
    ])
    func ipv4Valid(text: String, raw: UInt32) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.rawValue == raw)
        #expect(address.description == text)
        #expect(IPv4Address(address.description) == address)
    }

    @Test("IPv4 invalid forms", arguments: [
        "", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "010.1.1.1", "1.2.3.04", "00.1.1.1",
        " 1.2.3.4", "1.2.3.4 ", "1. 2.3.4", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4.", "a.b.c.d",
        "0x1.2.3.4", "+1.2.3.4", "-1.2.3.4", "1.2.3.4/32", "1000.1.1.1", "::1", "1.2.3.4%eth0",
        "１.2.3.4",
    ])
    func ipv4Invalid(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func ipv4ZeroAndOrder() {
        #expect(IPv4Address.zero.description == "0.0.0.0")
        #expect(IPv4Address("9.255.255.255")! < IPv4Address("10.0.0.0")!)
    }

    // MARK: IPv6

    @Test("IPv6 valid forms and RFC 5952 output", arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0db8::0001", "2001:db8::1"),
        ("2001:DB8::ABCD", "2001:db8::abcd"),
        ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group is not compressed
        ("2001:db8:1:1:1:1:1:0", "2001:db8:1:1:1:1:1:0"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),           // longest run wins
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),     // first run on ties
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("0:0:1:0:0:0:0:0", "0:0:1::"),
        ("fe80::5054:ff:fe12:3456", "fe80::5054:ff:fe12:3456"),
        ("FD00:1::", "fd00:1::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8"),
        ("1::3:4:5:6:7:8", "1:0:3:4:5:6:7:8"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("::FFFF:1.2.3.4", "::ffff:1.2.3.4"),
        ("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("::1.2.3.4", "::102:304"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("1::5:6:1.2.3.4", "1::5:6:102:304"),
        ("0000:0000:0000:0000:0000:0000:0000:0001", "::1"),
    ])
    func ipv6Valid(text: String, canonical: String) throws {
        let address = try #require(IPv6Address(text))
        #expect(address.description == canonical)
        #expect(IPv6Address(canonical) == address)
    }

    @Test("IPv6 invalid forms", arguments: [
        "", ":", ":::", "::::", "1::2::3", "::1::", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
        "1:2:3:4::5:6:7:8", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:",
        ":1::", "1::2:", "::1:", ":1", "1:", "12345::", "1:::2", "g::1", "fe80::1%eth0", "[::1]",
        " ::1", "::1 ", "1.2.3.4", "::1.2.3.4:5", "1.2.3.4::", "::1.2.3", "::256.1.1.1", "::01.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5:6:7::1.2.3.4", "::ffff:1.2.3.4.5", "::ffff:1234.1.1.1",
        "1:2:3:4:5:6:1.2.3.4:8", "::-1", "::+1", "0x1::",
    ])
    func ipv6Invalid(text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func ipv6RawValues() {
        #expect(IPv6Address("::1")?.rawValue == 1)
        #expect(IPv6Address("1::")?.rawValue == UInt128(1) << 112)
        #expect(IPv6Address("::ffff:1.2.3.4")?.rawValue == 0xffff_0102_0304)
        #expect(IPv6Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")?.rawValue == .max)
        #expect(IPv6Address.zero.description == "::")
        #expect(IPv6Address(rawValue: .max).description == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    }

    // MARK: IPAddress

    @Test("IPAddress parsing", arguments: [
        ("10.0.0.1", IPFamily.ipv4, "10.0.0.1"),
        ("::1", .ipv6, "::1"),
        ("::ffff:10.0.0.1", .ipv6, "::ffff:10.0.0.1"),
        ("FD00::1", .ipv6, "fd00::1"),
    ])
    func ipAddressValid(text: String, family: IPFamily, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.family == family)
        #expect(address.description == canonical)
    }

    @Test("IPAddress invalid", arguments: ["", "10.0.0", "10.0.0.1/32", "::1/128", "host", "1:2", "[::1]"])
    func ipAddressInvalid(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipAddressOrderPutsV4First() {
        let sorted = ["::", "255.255.255.255", "::1", "0.0.0.0", "10.0.0.1", "fe80::1"].map { IPAddress($0)! }.sorted()
        #expect(sorted.map(\.description) == ["0.0.0.0", "10.0.0.1", "255.255.255.255", "::", "::1", "fe80::1"])
        #expect(IPAddress("255.255.255.255")! < IPAddress("::")!)
        #expect(!(IPAddress("::")! < IPAddress("0.0.0.0")!))
    }

    // MARK: IPPrefix

    @Test("IPPrefix valid", arguments: [
        ("10.1.0.0/24", "10.1.0.0/24", 24, false),
        ("0.0.0.0/0", "0.0.0.0/0", 0, false),
        ("10.0.0.1/32", "10.0.0.1/32", 32, true),
        ("10.0.0.0/8", "10.0.0.0/8", 8, false),
        ("::/0", "::/0", 0, false),
        ("FD00:1::/64", "fd00:1::/64", 64, false),
        ("2001:db8::1/128", "2001:db8::1/128", 128, true),
        ("2001:db8::/32", "2001:db8::/32", 32, false),
        ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", 104, false),
    ])
    func prefixValid(text: String, canonical: String, length: Int, isHost: Bool) throws {
        let prefix = try #require(IPPrefix(text))
        #expect(prefix.description == canonical)
        #expect(prefix.length == length)
        #expect(prefix.isHost == isHost)
        #expect(IPPrefix(canonical) == prefix)
        #expect(try IPPrefix.parse(text, allowBareAddress: true).get() == prefix)
    }

    @Test("IPPrefix errors", arguments: [
        ("10.1.0.5/24", false, #""10.1.0.5/24" has host bits set (did you mean "10.1.0.0/24"?)"#),
        ("10.1.2.3/0", false, #""10.1.2.3/0" has host bits set (did you mean "0.0.0.0/0"?)"#),
        ("fd00:1::5/64", false, #""fd00:1::5/64" has host bits set (did you mean "fd00:1::/64"?)"#),
        ("::1/0", false, #""::1/0" has host bits set (did you mean "::/0"?)"#),
        ("ffff::1/1", false, #""ffff::1/1" has host bits set (did you mean "8000::/1"?)"#),
        ("10.0.0.0/33", false, #""10.0.0.0/33": prefix length 33 is out of range for IPv4 (0...32)"#),
        ("::/129", false, #""::/129": prefix length 129 is out of range for IPv6 (0...128)"#),
        ("::/99999999999999999999999", false,
         #""::/99999999999999999999999": prefix length 99999999999999999999999 is out of range for IPv6 (0...128)"#),
        ("10.0.0.0/x", false, #""10.0.0.0/x": prefix length "x" is not a number"#),
        ("10.0.0.0/", false, #""10.0.0.0/": prefix length "" is not a number"#),
        ("10.0.0.0/-1", false, #""10.0.0.0/-1": prefix length "-1" is not a number"#),
        ("10.0.0.0/24/8", false, #""10.0.0.0/24/8": prefix length "24/8" is not a number"#),
        ("10.0.0.0/ 8", false, #""10.0.0.0/ 8": prefix length " 8" is not a number"#),
        ("10.0.0.0/08", false, #""10.0.0.0/08": prefix length "08" has a leading zero"#),
        ("10.0.0/24", false, #""10.0.0/24": "10.0.0" is not an IP address"#),
        ("/24", false, #""/24": "" is not an IP address"#),
        ("10.0.0.1", false, #""10.0.0.1" has no prefix length (did you mean "10.0.0.1/32"?)"#),
        ("nonsense", false, #""nonsense" is not a CIDR prefix (expected address/length)"#),
        ("nonsense", true, #""nonsense" is not an IP address or CIDR prefix"#),
        ("", true, #""" is not an IP address or CIDR prefix"#),
    ])
    func prefixErrors(text: String, allowBare: Bool, message: String) {
        let result = IPPrefix.parse(text, allowBareAddress: allowBare)
        #expect(result == .failure(AddressParseError(message: message)))
        if case .failure(let error) = result { #expect(error.description == message) }
        #expect(IPPrefix(text) == nil)
    }

    @Test func prefixBareAddress() throws {
        let v4 = try IPPrefix.parse("10.0.0.1", allowBareAddress: true).get()
        #expect(v4.description == "10.0.0.1/32")
        #expect(v4.isHost)
        let v6 = try IPPrefix.parse("fd00::1", allowBareAddress: true).get()
        #expect(v6.description == "fd00::1/128")
        #expect(v6.family == .ipv6)
        #expect(IPPrefix(host: IPAddress("::")!).description == "::/128")
    }

    @Test func prefixMemberwise() {
        let a = IPAddress("10.1.0.0")!
        #expect(IPPrefix(address: a, length: 16)?.description == "10.1.0.0/16")
        #expect(IPPrefix(address: a, length: 15) == nil)  // host bit 10.1 set for /15
        #expect(IPPrefix(address: a, length: 33) == nil)
        #expect(IPPrefix(address: a, length: -1) == nil)
        #expect(IPPrefix(address: IPAddress("::")!, length: 128) != nil)
        #expect(IPPrefix(address: IPAddress("::")!, length: 129) == nil)
        #expect(IPPrefix(address: IPAddress("::1")!, length: 0) == nil)
        #expect(IPPrefix(address: IPAddress("8000::")!, length: 1) != nil)
        #expect(IPPrefix(address: IPAddress("8000::")!, length: 0) == nil)
    }

    @Test("IPPrefix range", arguments: [
        ("10.1.0.0/24", "10.1.0.0", "10.1.0.255"),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
        ("10.0.0.7/32", "10.0.0.7", "10.0.0.7"),
        ("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fd00:1::/64", "fd00:1::", "fd00:1::ffff:ffff:ffff:ffff"),
        ("::1/128", "::1", "::1"),
    ])
    func prefixRange(text: String, lower: String, upper: String) {
        let range = IPPrefix(text)!.range
        #expect(range.lower == IPAddress(lower))
        #expect(range.upper == IPAddress(upper))
        #expect(range.prefix == IPPrefix(text))
    }

    @Test("IPPrefix contains address", arguments: [
        ("10.1.0.0/24", "10.1.0.0", true),
        ("10.1.0.0/24", "10.1.0.255", true),
        ("10.1.0.0/24", "10.1.1.0", false),
        ("10.1.0.0/24", "10.0.255.255", false),
        ("0.0.0.0/0", "255.255.255.255", true),
        ("0.0.0.0/0", "::", false),
        ("::/0", "0.0.0.0", false),
        ("::/0", "ffff::1", true),
        ("::ffff:0.0.0.0/96", "10.0.0.1", false),
        ("::ffff:0.0.0.0/96", "::ffff:10.0.0.1", true),
        ("fd00:1::/64", "fd00:1::abcd", true),
        ("fd00:1::/64", "fd00:2::", false),
        ("10.0.0.1/32", "10.0.0.1", true),
        ("10.0.0.1/32", "10.0.0.2", false),
        ("::1/128", "::1", true),
    ])
    func prefixContainsAddress(prefix: String, address: String, expected: Bool) {
        #expect(IPPrefix(prefix)!.contains(IPAddress(address)!) == expected)
    }

    @Test("IPPrefix contains prefix", arguments: [
        ("10.0.0.0/8", "10.1.0.0/16", true),
        ("10.0.0.0/8", "10.0.0.0/8", true),
        ("10.1.0.0/16", "10.0.0.0/8", false),
        ("10.0.0.0/8", "11.0.0.0/16", false),
        ("0.0.0.0/0", "10.0.0.1/32", true),
        ("0.0.0.0/0", "::/0", false),
        ("::/0", "0.0.0.0/0", false),
        ("fd00::/8", "fd00:1::/64", true),
        ("fd00:1::/64", "fd00::/8", false),
    ])
    func prefixContainsPrefix(outer: String, inner: String, expected: Bool) {
        #expect(IPPrefix(outer)!.contains(IPPrefix(inner)!) == expected)
    }

    @Test func prefixOrder() {
        let sorted = ["::/0", "10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8", "0.0.0.0/0", "::1/128"]
            .map { IPPrefix($0)! }.sorted()
        #expect(sorted.map(\.description) == ["0.0.0.0/0", "9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "::/0", "::1/128"])
    }

    // MARK: IPRange

    @Test("IPRange prefix and description", arguments: [
        ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1/32"),
        ("10.0.0.0", "10.0.0.255", "10.0.0.0/24", "10.0.0.0/24"),
        ("10.0.0.1", "10.0.0.7", "10.0.0.1-10.0.0.7", nil),
        ("10.0.0.0", "10.0.0.6", "10.0.0.0-10.0.0.6", nil),
        ("10.0.0.2", "10.0.0.3", "10.0.0.2/31", "10.0.0.2/31"),
        ("10.0.0.1", "10.0.0.2", "10.0.0.1-10.0.0.2", nil),
        ("0.0.0.0", "255.255.255.255", "0.0.0.0/0", "0.0.0.0/0"),
        ("128.0.0.0", "255.255.255.255", "128.0.0.0/1", "128.0.0.0/1"),
        ("0.0.0.1", "255.255.255.255", "0.0.0.1-255.255.255.255", nil),
        ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", "::/0"),
        ("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil),
        ("fd00::", "fd00::ffff", "fd00::/112", "fd00::/112"),
        ("fd00::1", "fd00::1", "fd00::1", "fd00::1/128"),
        ("fd00::1", "fd00::9", "fd00::1-fd00::9", nil),
    ] as [(String, String, String, String?)])
    func rangePrefixAndDescription(lower: String, upper: String, description: String, prefix: String?) {
        let range = IPRange(lower: IPAddress(lower)!, upper: IPAddress(upper)!)
        #expect(range.description == description)
        #expect(range.prefix?.description == prefix)
        #expect(IPRange(description) == range)
        if let prefix { #expect(IPRange(IPPrefix(prefix)!) == range) }
    }

    @Test("IPRange.merged", arguments: [
        // overlap
        (["10.0.0.0-10.0.0.5", "10.0.0.3-10.0.0.9"], ["10.0.0.0-10.0.0.9"]),
        // adjacency
        (["10.0.0.0-10.0.0.3", "10.0.0.4-10.0.0.9"], ["10.0.0.0-10.0.0.9"]),
        (["10.0.0.4-10.0.0.9", "10.0.0.0-10.0.0.3"], ["10.0.0.0-10.0.0.9"]),
        (["10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/24"]),
        // gap of one address stays apart
        (["10.0.0.0-10.0.0.3", "10.0.0.5-10.0.0.9"], ["10.0.0.0/30", "10.0.0.5-10.0.0.9"]),
        (["10.0.0.1-10.0.0.3", "10.0.0.5-10.0.0.9"], ["10.0.0.1-10.0.0.3", "10.0.0.5-10.0.0.9"]),
        // nested
        (["10.0.0.0/8", "10.1.0.0/16", "10.2.3.4"], ["10.0.0.0/8"]),
        (["10.1.0.0/16", "10.0.0.0/8"], ["10.0.0.0/8"]),
        // duplicates
        (["10.0.0.1", "10.0.0.1", "10.0.0.1"], ["10.0.0.1"]),
        // singles chained into a run
        (["10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.0"], ["10.0.0.0/30"]),
        // mixed families: kept apart, v4 first, even at the numeric boundary
        (["::1", "10.0.0.1", "::", "10.0.0.0"], ["10.0.0.0/31", "::/127"]),
        (["255.255.255.255", "::"], ["255.255.255.255", "::"]),
        (["0.0.0.0/0", "::/0"], ["0.0.0.0/0", "::/0"]),
        // ends of the address space
        (["255.255.255.0/24", "255.255.255.255", "0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/0"]),
        (["::/1", "8000::/1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], ["::/0"]),
        (["fd00::1-fd00::5", "fd00::6", "fd00::a-fd00::f"], ["fd00::1-fd00::6", "fd00::a-fd00::f"]),
        // empty and single
        ([], []),
        (["10.0.0.1-10.0.0.7"], ["10.0.0.1-10.0.0.7"]),
    ] as [([String], [String])])
    func rangeMerged(input: [String], expected: [String]) {
        let merged = IPRange.merged(input.map { IPRange($0)! })
        #expect(merged.map(\.description) == expected)
    }

    @Test("IPRange text forms", arguments: [
        ("10.0.0.1", "10.0.0.1"),
        ("10.0.0.0/24", "10.0.0.0/24"),
        ("10.0.0.0-10.0.0.255", "10.0.0.0/24"),
        ("10.0.0.1-10.0.0.1", "10.0.0.1"),
        ("fd00::1-fd00::3", "fd00::1-fd00::3"),
        ("FD00::/16", "fd00::/16"),
    ])
    func rangeText(text: String, canonical: String) {
        #expect(IPRange(text)?.description == canonical)
    }

    @Test("IPRange invalid text", arguments: [
        "", "-", "10.0.0.1-", "-10.0.0.1", "10.0.0.2-10.0.0.1", "10.0.0.1-::1", "::1-10.0.0.1",
        "10.0.0.5/24", "10.0.0.0/33", "10.0.0.0/24-10.0.1.0", "10.0.0.1-10.0.0.2-10.0.0.3", "nope",
    ])
    func rangeInvalidText(text: String) {
        #expect(IPRange(text) == nil)
    }

    // MARK: MAC

    @Test("MAC valid", arguments: [
        ("52:54:00:12:34:56", UInt64(0x5254_0012_3456), "52:54:00:12:34:56"),
        ("AA:BB:CC:DD:EE:FF", 0xaabb_ccdd_eeff, "aa:bb:cc:dd:ee:ff"),
        ("aA-bB-cC-dD-eE-fF", 0xaabb_ccdd_eeff, "aa:bb:cc:dd:ee:ff"),
        ("00:00:00:00:00:00", 0, "00:00:00:00:00:00"),
        ("ff:ff:ff:ff:ff:ff", 0xffff_ffff_ffff, "ff:ff:ff:ff:ff:ff"),
        ("01-00-5e-00-00-01", 0x0100_5e00_0001, "01:00:5e:00:00:01"),
    ])
    func macValid(text: String, raw: UInt64, canonical: String) throws {
        let mac = try #require(MACAddress(text))
        #expect(mac.rawValue == raw)
        #expect(mac.description == canonical)
        #expect(MACAddress(canonical) == mac)
    }

    @Test("MAC invalid", arguments: [
        "", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5", "5:54:00:12:34:56:", "525400123456",
        "52:54:00:12:34:5g", "52:54-00:12:34:56", "52-54-00-12-34:56", "52.54.00.12.34.56", "5254.0012.3456",
        " 52:54:00:12:34:56", "52:54:00:12:34:56 ", "52:54:00:12:34:+6", "52::54:00:12:34:5",
    ])
    func macInvalid(text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test("MAC flags", arguments: [
        ("52:54:00:12:34:56", false, false),
        ("00:00:00:00:00:00", false, true),
        ("ff:ff:ff:ff:ff:ff", true, false),
        ("01:00:5e:00:00:01", true, false),
        ("33:33:00:00:00:01", true, false),
        ("02:00:00:00:00:00", false, false),
    ])
    func macFlags(text: String, multicast: Bool, zero: Bool) {
        let mac = MACAddress(text)!
        #expect(mac.isMulticast == multicast)
        #expect(mac.isZero == zero)
    }

    @Test("MAC modified EUI-64 link-local", arguments: [
        ("52:54:00:12:34:56", "fe80::5054:ff:fe12:3456"),
        ("00:00:00:00:00:00", "fe80::200:ff:fe00:0"),
        ("02:00:00:00:00:00", "fe80::ff:fe00:0"),
        ("ff:ff:ff:ff:ff:ff", "fe80::fdff:ffff:feff:ffff"),
        ("00:1b:21:aa:bb:cc", "fe80::21b:21ff:feaa:bbcc"),
    ])
    func macLinkLocal(text: String, expected: String) {
        #expect(MACAddress(text)!.eui64LinkLocal.description == expected)
    }

    @Test func macRawValueMasked() {
        #expect(MACAddress(rawValue: 0xffff_0000_0000_0001).description == "00:00:00:00:00:01")
        #expect(MACAddress("00:00:00:00:00:01")! < MACAddress("00:00:00:00:01:00")!)
    }

    // MARK: Codable

    private static func roundTrip<T: Codable & Equatable>(_ value: T, json expected: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = try encoder.encode([value])
        #expect(String(decoding: data, as: UTF8.self) == "[\(expected)]")
        let decoded = try JSONDecoder().decode([T].self, from: data)
        #expect(decoded == [value])
    }

    @Test func codableRoundTrip() throws {
        try Self.roundTrip(IPFamily.ipv6, json: #""ipv6""#)
        try Self.roundTrip(IPv4Address("10.0.0.1")!, json: #""10.0.0.1""#)
        try Self.roundTrip(IPv6Address("2001:0DB8::0001")!, json: #""2001:db8::1""#)
        try Self.roundTrip(IPAddress("::ffff:1.2.3.4")!, json: #""::ffff:1.2.3.4""#)
        try Self.roundTrip(IPAddress("192.0.2.1")!, json: #""192.0.2.1""#)
        try Self.roundTrip(IPPrefix("10.1.0.0/24")!, json: #""10.1.0.0/24""#)
        try Self.roundTrip(IPPrefix("fd00:1::/64")!, json: #""fd00:1::/64""#)
        try Self.roundTrip(IPPrefix("10.0.0.1/32")!, json: #""10.0.0.1/32""#)
        try Self.roundTrip(IPRange(lower: IPAddress("10.0.0.1")!, upper: IPAddress("10.0.0.7")!),
                           json: #""10.0.0.1-10.0.0.7""#)
        try Self.roundTrip(IPRange(IPPrefix("10.0.0.0/24")!), json: #""10.0.0.0/24""#)
        try Self.roundTrip(IPRange(IPPrefix("::1/128")!), json: #""::1""#)
        try Self.roundTrip(MACAddress("52-54-00-12-34-56")!, json: #""52:54:00:12:34:56""#)
    }

    @Test func codableRangeDecodesAllForms() throws {
        let json = Data(#"["10.0.0.1", "10.0.0.0/24", "10.0.0.1-10.0.0.7", "fd00::/64"]"#.utf8)
        let ranges = try JSONDecoder().decode([IPRange].self, from: json)
        #expect(ranges.map(\.description) == ["10.0.0.1", "10.0.0.0/24", "10.0.0.1-10.0.0.7", "fd00::/64"])
    }

    private static func expectDataCorrupted<T: Decodable>(_ type: T.Type, _ text: String) {
        let json = Data("[\"\(text)\"]".utf8)
        #expect {
            _ = try JSONDecoder().decode([T].self, from: json)
        } throws: { error in
            guard case DecodingError.dataCorrupted = error else { return false }
            return true
        }
    }

    @Test func codableRejectsMalformed() {
        Self.expectDataCorrupted(IPv4Address.self, "010.1.1.1")
        Self.expectDataCorrupted(IPv6Address.self, "1::2::3")
        Self.expectDataCorrupted(IPAddress.self, "example.com")
        Self.expectDataCorrupted(IPPrefix.self, "10.1.0.5/24")
        Self.expectDataCorrupted(IPPrefix.self, "10.1.0.5")
        Self.expectDataCorrupted(IPRange.self, "10.0.0.9-10.0.0.1")
        Self.expectDataCorrupted(IPRange.self, "10.0.0.1-::1")
        Self.expectDataCorrupted(MACAddress.self, "52:54:00:12:34")
        Self.expectDataCorrupted(IPFamily.self, "ipv5")
    }
}
