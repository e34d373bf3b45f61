import HostModel
import PolicyModel

/// How one value sits in a register or a set key on the wire, and how nft
/// names its type. Everything the codec writes or reads goes through here,
/// so the encoder and the decoder can't disagree on a byte.
enum NFTWire: Hashable {
    /// An unsigned integer of `bytes` bytes, big-endian (packet fields) or
    /// in host order (meta and ct keys).
    case integer(bytes: Int, bigEndian: Bool)
    /// An interface name: 16 bytes, NUL-padded.
    case ifname
    case ether
    case ipv4
    case ipv6

    var length: Int {
        switch self {
        case .integer(let bytes, _): bytes
        case .ifname: 16
        case .ether: 6
        case .ipv4: 4
        case .ipv6: 16
        }
    }

    /// The length a value takes in a concatenation: each field starts on a
    /// 32-bit register boundary.
    var paddedLength: Int { (length + 3) & ~3 }

    /// nft's byte-order tag for set udata: 1 host, 2 big-endian.
    var byteOrder: UInt32 {
        switch self {
        case .integer(_, let bigEndian): bigEndian ? 2 : 1
        case .ifname: 1
        case .ether, .ipv4, .ipv6: 2
        }
    }

    // MARK: - values

    func bytes(_ value: UInt64) -> [UInt8] {
        let n = length
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            let shift = UInt64(8 * (bigEndianLike ? n - 1 - i : i))
            out[i] = UInt8(truncatingIfNeeded: value >> shift)
        }
        return out
    }

    func integer(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            let shift = UInt64(8 * (bigEndianLike ? bytes.count - 1 - i : i))
            value |= UInt64(byte) << shift
        }
        return value
    }

    private var bigEndianLike: Bool {
        if case .integer(_, let bigEndian) = self { return bigEndian }
        return true
    }

    static func ifname(_ name: String) -> [UInt8] {
        var bytes = Array(name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        return bytes
    }

    static func ifname(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func mac(_ mac: MACAddress) -> [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: mac.rawValue >> UInt64(8 * (5 - $0))) }
    }

    static func mac(_ bytes: ArraySlice<UInt8>) -> MACAddress {
        MACAddress(rawValue: bytes.reduce(0) { $0 << 8 | UInt64($1) })
    }

    static func address(_ address: IPAddress) -> [UInt8] {
        switch address {
        case .v4(let a): (0..<4).map { UInt8(truncatingIfNeeded: a.rawValue >> UInt32(8 * (3 - $0))) }
        case .v6(let a): (0..<16).map { UInt8(truncatingIfNeeded: a.rawValue >> UInt128(8 * (15 - $0))) }
        }
    }

    static func address(_ bytes: ArraySlice<UInt8>) -> IPAddress {
        if bytes.count == 4 {
            return .v4(IPv4Address(rawValue: bytes.reduce(0) { $0 << 8 | UInt32($1) }))
        }
        return .v6(IPv6Address(rawValue: bytes.reduce(0) { $0 << 8 | UInt128($1) }))
    }

    /// The address one above `address` (the exclusive end of an interval),
    /// nil past the family's last address.
    static func successor(_ address: IPAddress) -> IPAddress? {
        switch address {
        case .v4(let a): a.rawValue == .max ? nil : .v4(IPv4Address(rawValue: a.rawValue + 1))
        case .v6(let a): a.rawValue == .max ? nil : .v6(IPv6Address(rawValue: a.rawValue + 1))
        }
    }

    static func predecessor(_ address: IPAddress) -> IPAddress {
        switch address {
        case .v4(let a): .v4(IPv4Address(rawValue: a.rawValue &- 1))
        case .v6(let a): .v6(IPv6Address(rawValue: a.rawValue &- 1))
        }
    }
}

/// The wire form and nft type of each named-set key or data type.
extension NFTDataType {
    var wire: NFTWire {
        switch self {
        case .ifname: .ifname
        case .etherAddr: .ether
        case .ipv4Addr: .ipv4
        case .ipv6Addr: .ipv6
        case .mark: .integer(bytes: 4, bigEndian: false)
        case .ctZone: .integer(bytes: 2, bigEndian: false)
        case .vlanID: .integer(bytes: 2, bigEndian: true)
        case .verdict: .integer(bytes: 4, bigEndian: false)
        }
    }

    /// nftables' datatype numbers (src/datatype.h), which `nft list` uses to
    /// print keys. `ct zone` and `vlan id` are plain integers described by
    /// the set's typeof udata.
    var nftTypeID: UInt32 {
        switch self {
        case .ifname: 41
        case .etherAddr: 9
        case .ipv4Addr: 7
        case .ipv6Addr: 8
        case .mark: 19
        case .ctZone, .vlanID: 4
        case .verdict: 0xffff_ff00  // NFT_DATA_VERDICT
        }
    }

    init?(nftTypeID: UInt32, typeof: [UInt8]?) {
        switch nftTypeID {
        case 41: self = .ifname
        case 9: self = .etherAddr
        case 7: self = .ipv4Addr
        case 8: self = .ipv6Addr
        case 19: self = .mark
        case 0xffff_ff00: self = .verdict
        case 4:
            if typeof == NFTSetUserData.vlanIDTypeof {
                self = .vlanID
            } else if typeof == NFTSetUserData.ctZoneTypeof {
                self = .ctZone
            } else {
                return nil
            }
        default: return nil
        }
    }

    /// The expression nft describes a set of this type with (`typeof`), as
    /// the udata bytes nft itself writes.
    var typeofUserData: [UInt8]? {
        switch self {
        case .vlanID: NFTSetUserData.vlanIDTypeof
        case .ctZone: NFTSetUserData.ctZoneTypeof
        case .mark: NFTSetUserData.metaMarkTypeof
        default: nil
        }
    }
}

/// nft's concatenated type number: each component's type in 6 more bits.
func nftConcatTypeID(_ types: [NFTDataType]) -> UInt32 {
    types.reduce(0) { $0 << 6 | $1.nftTypeID }
}

func nftSplitTypeID(_ id: UInt32, count: Int) -> [UInt32] {
    (0..<count).reversed().map { (id >> UInt32(6 * $0)) & 0x3f }
}

/// A set's userdata as nft writes it (TLVs of one type byte, one length byte,
/// then the value): key and data byte order, `typeof` descriptions, comment.
/// Written the way nft does so that `nft list` prints our sets as its own.
enum NFTSetUserData {
    static let keyByteOrder: UInt8 = 0
    static let dataByteOrder: UInt8 = 1
    static let keyTypeof: UInt8 = 3
    static let dataTypeof: UInt8 = 4
    static let dataInterval: UInt8 = 6
    static let comment: UInt8 = 7

    // The typeof descriptions, as nft 1.0 writes them: expression kind, then
    // the expression's own udata (payload: protocol and field; meta: key;
    // ct: key and direction).
    static let vlanIDTypeof: [UInt8] = hex("000407000000011200041000000001040400000004040c000000")
    static let metaMarkTypeof: [UInt8] = hex("0004090000000106000403000000")
    static let ctZoneTypeof: [UInt8] = hex("00040c000000010c0004110000000104ffffffff")
    /// `type a . b`: a concatenation without subexpressions.
    static let concatTypeof: [UInt8] = hex("00040d0000000100")

    static func encode(_ definition: NFTSet.Definition) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ type: UInt8, _ value: [UInt8]) {
            out += [type, UInt8(value.count)] + value
        }
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let concat = definition.key.count > 1
        put(keyByteOrder, u32(concat ? 0 : definition.key[0].wire.byteOrder))
        if let data = definition.data {
            put(dataByteOrder, u32(data == .verdict ? 0 : data.wire.byteOrder))
        }
        let usesTypeof = (definition.key + [definition.data].compactMap { $0 }).contains { $0 == .ctZone || $0 == .vlanID }
        if concat {
            put(keyTypeof, concatTypeof)
        } else if usesTypeof, let typeof = definition.key[0].typeofUserData {
            put(keyTypeof, typeof)
        }
        if usesTypeof, let typeof = definition.data?.typeofUserData { put(dataTypeof, typeof) }
        if definition.data != nil { put(dataInterval, u32(0)) }
        if let comment = definition.comment {
            put(self.comment, Array(comment.utf8.prefix(253)) + [0])
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [UInt8: [UInt8]] {
        var out: [UInt8: [UInt8]] = [:]
        var i = 0
        while i + 2 <= bytes.count {
            let type = bytes[i]
            let length = Int(bytes[i + 1])
            guard i + 2 + length <= bytes.count else { break }
            out[type] = Array(bytes[(i + 2)..<(i + 2 + length)])
            i += 2 + length
        }
        return out
    }

    /// A NUL-terminated string TLV value.
    static func string(_ value: [UInt8]?) -> String? {
        value.map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// A comment TLV (type 0 for rules and chains) as nft writes it.
    static func commentTLV(_ comment: String, type: UInt8 = 0) -> [UInt8] {
        let value = Array(comment.utf8.prefix(253)) + [0]
        return [type, UInt8(value.count)] + value
    }

    private static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            out.append(UInt8(String([high, low]), radix: 16)!)
        }
        return out
    }
}
