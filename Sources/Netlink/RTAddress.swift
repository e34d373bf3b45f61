import PolicyModel

/// IP addresses as rtnetlink carries them: 4 or 16 bytes in network byte
/// order (IFLA_VXLAN_LOCAL / IFLA_VXLAN_LOCAL6, NDA_DST).
extension IPAddress {
    init?(networkBytes bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 4:
            self = .v4(IPv4Address(rawValue: bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
        case 16:
            self = .v6(IPv6Address(rawValue: bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }))
        default:
            return nil
        }
    }

    var networkBytes: [UInt8] {
        switch self {
        case .v4(let address): (0..<4).map { UInt8(truncatingIfNeeded: address.rawValue >> (24 - 8 * $0)) }
        case .v6(let address): (0..<16).map { UInt8(truncatingIfNeeded: address.rawValue >> (120 - 8 * $0)) }
        }
    }
}
