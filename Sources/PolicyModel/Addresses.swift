// Typed addresses of the policy model: IPv4/IPv6 addresses, CIDR prefixes,
// inclusive address ranges and MAC addresses.
//
// Pure Swift (no Foundation): these are parsed for every port of large
// policies, so parsing works on the UTF-8 bytes of the text directly and
// formatting writes into a preallocated String buffer.

// MARK: - Family

public enum IPFamily: String, Sendable, Hashable, Codable, CaseIterable {
    case ipv4, ipv6

    /// Number of bits of an address of this family (32 or 128).
    @inlinable
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }
}

// MARK: - IPv4

public struct IPv4Address: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
    public var rawValue: UInt32

    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Strict dotted quad: exactly four decimal parts 0...255 without leading
    /// zeros, nothing else (no spaces, no shorthand forms).
    public init?(_ text: String) {
        guard let value = AddressText.withBytes(text, { AddressText.parseIPv4($0, 0, $0.count) }) else {
            return nil
        }
        self.rawValue = value
    }

    public var description: String {
        String(unsafeUninitializedCapacity: 15) { buffer in
            var out = AddressText.Writer(buffer)
            out.writeIPv4(rawValue)
            return out.count
        }
    }

    public static let zero = IPv4Address(rawValue: 0)

    @inlinable
    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self = try AddressText.decode(from: decoder, what: "IPv4 address", Self.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

// MARK: - IPv6

public struct IPv6Address: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
    public var rawValue: UInt128

    @inlinable
    public init(rawValue: UInt128) { self.rawValue = rawValue }

    /// RFC 4291 text forms: eight groups of 1-4 hex digits, "::" at most once
    /// for one or more zero groups, optionally a dotted IPv4 tail in the last
    /// 32 bits. No zone ids, no brackets.
    public init?(_ text: String) {
        guard let value = AddressText.withBytes(text, { AddressText.parseIPv6($0, 0, $0.count) }) else {
            return nil
        }
        self.rawValue = value
    }

    /// RFC 5952 canonical text.
    public var description: String {
        String(unsafeUninitializedCapacity: 39) { buffer in
            var out = AddressText.Writer(buffer)
            out.writeIPv6(rawValue)
            return out.count
        }
    }

    public static let zero = IPv6Address(rawValue: 0)

    /// True for ::ffff:0:0/96.
    public var isIPv4Mapped: Bool { rawValue >> 32 == 0xffff }

    @inlinable
    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self = try AddressText.decode(from: decoder, what: "IPv6 address", Self.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

// MARK: - IPAddress

public enum IPAddress: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
    case v4(IPv4Address), v6(IPv6Address)

    public init?(_ text: String) {
        guard let address = AddressText.withBytes(text, { AddressText.parseIPAddress($0, 0, $0.count) }) else {
            return nil
        }
        self = address
    }

    @inlinable
    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    /// All IPv4 addresses sort before all IPv6 addresses, then numerically.
    @inlinable
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }

    public init(from decoder: any Decoder) throws {
        self = try AddressText.decode(from: decoder, what: "IP address", Self.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // Numeric view shared by both families (v4 in the low 32 bits).

    /// The address as an unsigned number (IPv4 in the low 32 bits).
    @usableFromInline
    var wideValue: UInt128 {
        switch self {
        case .v4(let a): UInt128(a.rawValue)
        case .v6(let a): a.rawValue
        }
    }

    /// Builds an address of `family` from a number that fits the family.
    @usableFromInline
    init(family: IPFamily, wideValue: UInt128) {
        switch family {
        case .ipv4: self = .v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: wideValue)))
        case .ipv6: self = .v6(IPv6Address(rawValue: wideValue))
        }
    }
}

// MARK: - Errors

public struct AddressParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}

// MARK: - IPPrefix

/// A CIDR prefix whose host bits are zero.
public struct IPPrefix: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
    /// The network address (host bits are zero).
    public let address: IPAddress
    /// 0...32 for IPv4, 0...128 for IPv6.
    public let length: Int

    /// Nil if `length` is out of range for the family or `address` has host bits set.
    public init?(address: IPAddress, length: Int) {
        let width = address.family.bitWidth
        guard length >= 0, length <= width else { return nil }
        guard address.wideValue & IPPrefix.hostMask(width: width, length: length) == 0 else { return nil }
        self.address = address
        self.length = length
    }

    /// The /32 or /128 prefix of a single address.
    public init(host: IPAddress) {
        self.address = host
        self.length = host.family.bitWidth
    }

    /// Internal unchecked initialiser: the caller guarantees the invariants.
    init(uncheckedAddress address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }

    /// Strict "A/N"; see `parse(_:allowBareAddress:)` for error messages.
    public init?(_ text: String) {
        guard case .success(let prefix) = IPPrefix.parse(text, allowBareAddress: false) else { return nil }
        self = prefix
    }

    /// Parses "A/N". With `allowBareAddress`, "A" alone means the host prefix.
    /// Errors say what is wrong: not an address, prefix length not a number or
    /// out of range for the family, or host bits set (suggesting the masked prefix).
    public static func parse(_ text: String, allowBareAddress: Bool) -> Result<IPPrefix, AddressParseError> {
        AddressText.withBytes(text) { bytes in
            parse(bytes, text: text, allowBareAddress: allowBareAddress)
        }
    }

    private static func parse(
        _ p: UnsafeBufferPointer<UInt8>, text: String, allowBareAddress: Bool
    ) -> Result<IPPrefix, AddressParseError> {
        let end = p.count
        var slash = -1
        for i in 0..<end where p[i] == UInt8(ascii: "/") {
            slash = i
            break
        }
        if slash < 0 {
            guard let address = AddressText.parseIPAddress(p, 0, end) else {
                if allowBareAddress {
                    return .failure(AddressParseError(message: "\"\(text)\" is not an IP address or CIDR prefix"))
                }
                return .failure(AddressParseError(message: "\"\(text)\" is not a CIDR prefix (expected address/length)"))
            }
            guard allowBareAddress else {
                return .failure(AddressParseError(message:
                    "\"\(text)\" has no prefix length (did you mean \"\(IPPrefix(host: address))\"?)"))
            }
            return .success(IPPrefix(host: address))
        }

        guard let address = AddressText.parseIPAddress(p, 0, slash) else {
            let addressText = AddressText.string(p, 0, slash)
            return .failure(AddressParseError(message: "\"\(text)\": \"\(addressText)\" is not an IP address"))
        }
        let family = address.family
        let width = family.bitWidth

        // Prefix length: 1-3 decimal digits, no sign, no leading zero.
        let start = slash + 1
        var value = 0
        var digits = 0
        var i = start
        while i < end, let d = AddressText.decimalDigit(p[i]) {
            if digits < 4 { value = value * 10 + Int(d) }
            digits += 1
            i += 1
        }
        guard digits > 0, i == end else {
            let lengthText = AddressText.string(p, start, end)
            return .failure(AddressParseError(message: "\"\(text)\": prefix length \"\(lengthText)\" is not a number"))
        }
        if digits > 1, p[start] == UInt8(ascii: "0") {
            let lengthText = AddressText.string(p, start, end)
            return .failure(AddressParseError(message:
                "\"\(text)\": prefix length \"\(lengthText)\" has a leading zero"))
        }
        guard digits <= 3, value <= width else {
            let lengthText = AddressText.string(p, start, end)
            return .failure(AddressParseError(message:
                "\"\(text)\": prefix length \(lengthText) is out of range for \(family == .ipv4 ? "IPv4" : "IPv6") (0...\(width))"))
        }

        let mask = hostMask(width: width, length: value)
        let wide = address.wideValue
        guard wide & mask == 0 else {
            let network = IPPrefix(
                uncheckedAddress: IPAddress(family: family, wideValue: wide & ~mask), length: value)
            return .failure(AddressParseError(message: "\"\(text)\" has host bits set (did you mean \"\(network)\"?)"))
        }
        return .success(IPPrefix(uncheckedAddress: address, length: value))
    }

    @inlinable
    public var family: IPFamily { address.family }

    /// /32 or /128.
    @inlinable
    public var isHost: Bool { length == address.family.bitWidth }

    /// First and last address of the prefix.
    public var range: IPRange { IPRange(self) }

    /// False for an address of the other family.
    public func contains(_ other: IPAddress) -> Bool {
        let width = address.family.bitWidth
        guard other.family == address.family else { return false }
        return other.wideValue & ~IPPrefix.hostMask(width: width, length: length) == address.wideValue
    }

    /// True if `other` is this prefix or a more specific prefix inside it.
    public func contains(_ other: IPPrefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    public var description: String { "\(address)/\(length)" }

    /// By family, then address, then length.
    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        if lhs.address != rhs.address { return lhs.address < rhs.address }
        return lhs.length < rhs.length
    }

    public init(from decoder: any Decoder) throws {
        self = try AddressText.decode(from: decoder, what: "CIDR prefix", Self.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The host bits of a prefix of `length` in an address of `width` bits.
    /// Guards the shift by 128, which does not fit the type.
    @usableFromInline
    static func hostMask(width: Int, length: Int) -> UInt128 {
        let hostBits = width - length
        if hostBits <= 0 { return 0 }
        if hostBits >= 128 { return .max }
        return (UInt128(1) << UInt128(hostBits)) &- 1
    }
}

// MARK: - IPRange

/// An inclusive range of addresses of one family.
public struct IPRange: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let lower: IPAddress
    /// Inclusive; same family as `lower`, `lower <= upper`.
    public let upper: IPAddress

    public init(lower: IPAddress, upper: IPAddress) {
        precondition(lower.family == upper.family, "IPRange bounds of different families: \(lower), \(upper)")
        precondition(lower <= upper, "IPRange with lower > upper: \(lower), \(upper)")
        self.lower = lower
        self.upper = upper
    }

    public init(_ prefix: IPPrefix) {
        let family = prefix.family
        let mask = IPPrefix.hostMask(width: family.bitWidth, length: prefix.length)
        self.lower = prefix.address
        self.upper = IPAddress(family: family, wideValue: prefix.address.wideValue | mask)
    }

    /// Unchecked: the caller guarantees the invariants.
    init(uncheckedLower lower: IPAddress, upper: IPAddress) {
        self.lower = lower
        self.upper = upper
    }

    @inlinable
    public var family: IPFamily { lower.family }

    /// The prefix covering exactly this range, if there is one.
    public var prefix: IPPrefix? {
        let low = lower.wideValue
        let span = upper.wideValue &- low  // number of addresses minus one
        // The range is a prefix iff span = 2^k - 1 and lower is aligned to 2^k.
        guard span & (span &+ 1) == 0, low & span == 0 else { return nil }
        return IPPrefix(uncheckedAddress: lower, length: family.bitWidth - span.nonzeroBitCount)
    }

    /// nft's notation: "10.0.0.1" for a single address, "10.0.0.0/24" when
    /// the range is a prefix, else "10.0.0.1-10.0.0.7".
    public var description: String {
        if lower == upper { return lower.description }
        if let prefix { return prefix.description }
        return "\(lower)-\(upper)"
    }

    /// By lower bound, then upper bound (so v4 ranges come first).
    public static func < (lhs: IPRange, rhs: IPRange) -> Bool {
        if lhs.lower != rhs.lower { return lhs.lower < rhs.lower }
        return lhs.upper < rhs.upper
    }

    /// Sorted, disjoint, with overlapping and adjacent ranges merged.
    /// Families are kept apart; IPv4 first.
    public static func merged(_ ranges: some Sequence<IPRange>) -> [IPRange] {
        var sorted = Array(ranges)
        guard sorted.count > 1 else { return sorted }
        sorted.sort()
        var result: [IPRange] = []
        result.reserveCapacity(sorted.count)
        var current = sorted[0]
        var currentUpper = current.upper.wideValue
        for next in sorted.dropFirst() {
            let nextLower = next.lower.wideValue
            if next.family == current.family,
               nextLower <= currentUpper || nextLower - currentUpper == 1 {
                let nextUpper = next.upper.wideValue
                if nextUpper > currentUpper {
                    current = IPRange(uncheckedLower: current.lower, upper: next.upper)
                    currentUpper = nextUpper
                }
            } else {
                result.append(current)
                current = next
                currentUpper = current.upper.wideValue
            }
        }
        result.append(current)
        return result
    }

    /// Parses "a", "a/n" (a strict prefix) or "a-b" (same family, a <= b).
    public init?(_ text: String) {
        guard let range = AddressText.withBytes(text, { IPRange.parse($0, text: text) }) else { return nil }
        self = range
    }

    private static func parse(_ p: UnsafeBufferPointer<UInt8>, text: String) -> IPRange? {
        let end = p.count
        for i in 0..<end {
            switch p[i] {
            case UInt8(ascii: "/"):
                guard case .success(let prefix) = IPPrefix.parse(text, allowBareAddress: false) else { return nil }
                return IPRange(prefix)
            case UInt8(ascii: "-"):
                guard let lower = AddressText.parseIPAddress(p, 0, i),
                      let upper = AddressText.parseIPAddress(p, i + 1, end),
                      lower.family == upper.family, lower <= upper
                else { return nil }
                return IPRange(uncheckedLower: lower, upper: upper)
            default:
                continue
            }
        }
        guard let address = AddressText.parseIPAddress(p, 0, end) else { return nil }
        return IPRange(uncheckedLower: address, upper: address)
    }

    public init(from decoder: any Decoder) throws {
        self = try AddressText.decode(from: decoder, what: "IP range", Self.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

// MARK: - MAC

public struct MACAddress: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
    /// The address in the low 48 bits.
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xffff_ffff_ffff }

    /// Exactly six two-digit hex octets separated by ':' (or all by '-').
    public init?(_ text: String) {
        guard let value = AddressText.withBytes(text, { MACAddress.parse($0) }) else { return nil }
        self.rawValue = value
    }

    private static func parse(_ p: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard p.count == 17 else { return nil }
        let separator = p[2]
        guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else { return nil }
        var value: UInt64 = 0
        var i = 0
        while true {
            guard let high = AddressText.hexDigit(p[i]), let low = AddressText.hexDigit(p[i + 1]) else { return nil }
            value = value << 8 | UInt64(high << 4 | low)
            i += 2
            if i == 17 { return value }
            guard p[i] == separator else { return nil }
            i += 1
        }
    }

    /// Lowercase, colon-separated.
    public var description: String {
        String(unsafeUninitializedCapacity: 17) { buffer in
            var out = AddressText.Writer(buffer)
            for octet in 0..<6 {
                if octet > 0 { out.write(UInt8(ascii: ":")) }
                let byte = UInt8(truncatingIfNeeded: rawValue >> (8 * UInt64(5 - octet)))
                out.write(AddressText.hexCharacter(byte >> 4))
                out.write(AddressText.hexCharacter(byte & 0xf))
            }
            return out.count
        }
    }

    /// Group bit: the low bit of the first octet (includes broadcast).
    public var isMulticast: Bool { (rawValue >> 40) & 1 == 1 }

    public var isZero: Bool { rawValue & 0xffff_ffff_ffff == 0 }

    /// fe80::/64 with the modified EUI-64 interface identifier (RFC 4291
    /// appendix A: flip the universal/local bit, insert ff:fe in the middle).
    public var eui64LinkLocal: IPv6Address {
        let oui = (rawValue >> 24) & 0xff_ffff
        let nic = rawValue & 0xff_ffff
        let interfaceID = (oui ^ 0x02_0000) << 40 | 0xfffe << 24 | nic
        return IPv6Address(rawValue: UInt128(0xfe80) << 112 | UInt128(interfaceID))
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool {
        lhs.rawValue & 0xffff_ffff_ffff < rhs.rawValue & 0xffff_ffff_ffff
    }

    public init(from decoder: any Decoder) throws {
        self = try AddressText.decode(from: decoder, what: "MAC address", Self.init)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

// MARK: - Text helpers

/// Byte-level parsing and formatting shared by the address types.
enum AddressText {
    /// Runs `body` over the UTF-8 bytes of `text` without copying native strings.
    @inline(__always)
    static func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        return copy.withUTF8(body)
    }

    static func string(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
    }

    @inline(__always)
    static func decimalDigit(_ c: UInt8) -> UInt32? {
        let d = c &- UInt8(ascii: "0")
        return d < 10 ? UInt32(d) : nil
    }

    @inline(__always)
    static func hexDigit(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c &- UInt8(ascii: "A") &+ 10)
        default: nil
        }
    }

    @inline(__always)
    static func hexCharacter(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }

    /// Strict dotted quad in p[start..<end].
    static func parseIPv4(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32? {
        var result: UInt32 = 0
        var parts = 0
        var i = start
        while true {
            let partStart = i
            var value: UInt32 = 0
            var digits = 0
            while i < end, let d = decimalDigit(p[i]) {
                if digits == 3 { return nil }
                value = value * 10 + d
                digits += 1
                i += 1
            }
            guard digits > 0, value <= 255 else { return nil }
            if digits > 1, p[partStart] == UInt8(ascii: "0") { return nil }
            result = result << 8 | value
            parts += 1
            if i == end { break }
            guard p[i] == UInt8(ascii: "."), parts < 4 else { return nil }
            i += 1
        }
        return parts == 4 ? result : nil
    }

    /// RFC 4291 text form in p[start..<end].
    static func parseIPv6(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt128? {
        let colon = UInt8(ascii: ":")
        guard end - start >= 2 else { return nil }
        var head: UInt128 = 0, headCount = 0   // groups before "::" (or all groups)
        var tail: UInt128 = 0, tailCount = 0   // groups after "::"
        var compressed = false
        var i = start
        if p[i] == colon {
            guard p[i + 1] == colon else { return nil }  // a single leading colon
            compressed = true
            i += 2
        }
        while i < end {
            let groupStart = i
            var value: UInt32 = 0
            var digits = 0
            while i < end, let h = hexDigit(p[i]) {
                if digits == 4 { return nil }
                value = value << 4 | h
                digits += 1
                i += 1
            }
            if i < end, p[i] == UInt8(ascii: ".") {
                // Dotted IPv4 tail: must run to the end and fill the last 32 bits.
                guard headCount + tailCount <= 6, let v4 = parseIPv4(p, groupStart, end) else { return nil }
                if compressed {
                    tail = tail << 32 | UInt128(v4)
                    tailCount += 2
                } else {
                    head = head << 32 | UInt128(v4)
                    headCount += 2
                }
                i = end
                break
            }
            guard digits > 0, headCount + tailCount < 8 else { return nil }
            if compressed {
                tail = tail << 16 | UInt128(value)
                tailCount += 1
            } else {
                head = head << 16 | UInt128(value)
                headCount += 1
            }
            if i == end { break }
            guard p[i] == colon else { return nil }
            i += 1
            guard i < end else { return nil }  // a single trailing colon
            if p[i] == colon {
                guard !compressed else { return nil }  // "::" twice (or ":::")
                compressed = true
                i += 1
            }
        }
        let total = headCount + tailCount
        if compressed {
            guard total <= 7 else { return nil }  // "::" stands for at least one group
        } else {
            guard total == 8 else { return nil }
        }
        if headCount == 0 { return tail }  // avoid shifting by 128
        return head << UInt128(16 * (8 - headCount)) | tail
    }

    /// IPv6 if the text has a colon, else IPv4.
    static func parseIPAddress(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> IPAddress? {
        var i = start
        while i < end {
            if p[i] == UInt8(ascii: ":") {
                return parseIPv6(p, start, end).map { .v6(IPv6Address(rawValue: $0)) }
            }
            i += 1
        }
        return parseIPv4(p, start, end).map { .v4(IPv4Address(rawValue: $0)) }
    }

    /// Decodes a single string value with `parse`, throwing dataCorrupted when it fails.
    static func decode<T>(from decoder: any Decoder, what: String, _ parse: (String) -> T?) throws -> T {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not a valid \(what)")
        }
        return value
    }

    /// Appends ASCII bytes to an uninitialised String buffer.
    struct Writer {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var count = 0

        init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

        @inline(__always)
        mutating func write(_ byte: UInt8) {
            buffer[count] = byte
            count += 1
        }

        mutating func writeDecimal(_ byte: UInt8) {
            if byte >= 100 { write(UInt8(ascii: "0") &+ byte / 100) }
            if byte >= 10 { write(UInt8(ascii: "0") &+ (byte / 10) % 10) }
            write(UInt8(ascii: "0") &+ byte % 10)
        }

        mutating func writeIPv4(_ value: UInt32) {
            writeDecimal(UInt8(truncatingIfNeeded: value >> 24))
            write(UInt8(ascii: "."))
            writeDecimal(UInt8(truncatingIfNeeded: value >> 16))
            write(UInt8(ascii: "."))
            writeDecimal(UInt8(truncatingIfNeeded: value >> 8))
            write(UInt8(ascii: "."))
            writeDecimal(UInt8(truncatingIfNeeded: value))
        }

        /// A group in lowercase hex without leading zeros.
        mutating func writeHexGroup(_ group: UInt16) {
            var started = false
            var shift: UInt16 = 12
            while true {
                let nibble = UInt8(truncatingIfNeeded: group >> shift) & 0xf
                if started || nibble != 0 || shift == 0 {
                    write(hexCharacter(nibble))
                    started = true
                }
                if shift == 0 { break }
                shift -= 4
            }
        }

        /// RFC 5952: lowercase, no leading zeros, the longest run of two or
        /// more zero groups (the first on ties) as "::", IPv4-mapped with a
        /// dotted tail.
        mutating func writeIPv6(_ value: UInt128) {
            if value >> 32 == 0xffff {
                for byte in "::ffff:".utf8 { write(byte) }
                writeIPv4(UInt32(truncatingIfNeeded: value))
                return
            }
            @inline(__always) func group(_ k: Int) -> UInt16 {
                UInt16(truncatingIfNeeded: value >> UInt128(16 * (7 - k)))
            }
            var bestStart = -1, bestLength = 0
            var runStart = -1
            for k in 0...8 {
                if k < 8, group(k) == 0 {
                    if runStart < 0 { runStart = k }
                } else if runStart >= 0 {
                    if k - runStart > bestLength { bestStart = runStart; bestLength = k - runStart }
                    runStart = -1
                }
            }
            if bestLength < 2 { bestStart = -1; bestLength = 0 }
            var k = 0
            while k < 8 {
                if k == bestStart {
                    write(UInt8(ascii: ":"))
                    write(UInt8(ascii: ":"))
                    k += bestLength
                    continue
                }
                if k > 0, k != bestStart + bestLength { write(UInt8(ascii: ":")) }
                writeHexGroup(group(k))
                k += 1
            }
        }
    }
}
