import CNetlink
import HostModel

/// Where a selector's value comes from: a meta key, a ct key, or bytes of a
/// packet header, optionally masked. What `nft --debug=netlink` prints as
/// `meta load mark`, `payload load 2b @ link header + 12`.
struct NFTLoad: Hashable {
    enum Source: Hashable {
        case meta(UInt32)
        case ct(UInt32)
        case payload(base: UInt32, offset: UInt32, length: UInt32)
    }

    var source: Source
    /// A bitwise AND applied right after the load (`meta mark & 0xffff`,
    /// the 12 bits of `vlan id`).
    var mask: [UInt8]?
}

extension NFTSelector {
    private static let link = UInt32(NFT_PAYLOAD_LL_HEADER.rawValue)
    private static let network = UInt32(NFT_PAYLOAD_NETWORK_HEADER.rawValue)
    private static let transport = UInt32(NFT_PAYLOAD_TRANSPORT_HEADER.rawValue)

    /// How the selector's value is loaded into a register.
    var load: NFTLoad {
        func meta(_ key: nft_meta_keys) -> NFTLoad { NFTLoad(source: .meta(key.rawValue)) }
        func ct(_ key: nft_ct_keys) -> NFTLoad { NFTLoad(source: .ct(key.rawValue)) }
        func payload(_ base: UInt32, _ offset: UInt32, _ length: UInt32, mask: [UInt8]? = nil) -> NFTLoad {
            NFTLoad(source: .payload(base: base, offset: offset, length: length), mask: mask)
        }
        switch self {
        case .iifname: return meta(NFT_META_IIFNAME)
        case .oifname: return meta(NFT_META_OIFNAME)
        case .mark(let mask):
            var load = meta(NFT_META_MARK)
            load.mask = mask.map { wire.bytes(UInt64($0)) }
            return load
        case .nfproto: return meta(NFT_META_NFPROTO)
        case .l4proto: return meta(NFT_META_L4PROTO)
        case .etherType: return payload(Self.link, 12, 2)
        case .etherSaddr: return payload(Self.link, 6, 6)
        case .etherDaddr: return payload(Self.link, 0, 6)
        case .vlanID: return payload(Self.link, 14, 2, mask: [0x0f, 0xff])
        case .arpSenderMAC: return payload(Self.network, 8, 6)
        case .arpSenderIP: return payload(Self.network, 14, 4)
        case .ipSaddr: return payload(Self.network, 12, 4)
        case .ipDaddr: return payload(Self.network, 16, 4)
        case .ip6Saddr: return payload(Self.network, 8, 16)
        case .ip6Daddr: return payload(Self.network, 24, 16)
        case .transportSport: return payload(Self.transport, 0, 2)
        case .transportDport: return payload(Self.transport, 2, 2)
        case .icmpType, .icmpv6Type: return payload(Self.transport, 0, 1)
        case .icmpCode, .icmpv6Code: return payload(Self.transport, 1, 1)
        case .ctState: return ct(NFT_CT_STATE)
        case .ctDirection: return ct(NFT_CT_DIRECTION)
        }
    }

    /// The selector a load reads. ICMP and ICMPv6 fields sit at the same
    /// place: `l4proto` (the rule's earlier `meta l4proto` match) decides.
    init?(load: NFTLoad, l4proto: UInt64?) {
        let candidates: [NFTSelector] = [
            .iifname, .oifname, .nfproto, .l4proto, .etherType, .etherSaddr, .etherDaddr, .vlanID, .arpSenderMAC,
            .arpSenderIP, .ipSaddr, .ipDaddr, .ip6Saddr, .ip6Daddr, .transportSport, .transportDport,
            l4proto == 58 ? .icmpv6Type : .icmpType, l4proto == 58 ? .icmpv6Code : .icmpCode, .ctState, .ctDirection,
        ]
        if load.source == .meta(NFT_META_MARK.rawValue) {
            let wire = NFTSelector.mark(mask: nil).wire
            self = .mark(mask: load.mask.map { UInt32(wire.integer($0[...])) })
            return
        }
        guard let match = candidates.first(where: { $0.load == load }) else { return nil }
        self = match
    }

    /// How the selector's value is laid out in its register.
    var wire: NFTWire {
        switch self {
        case .iifname, .oifname: .ifname
        case .mark, .ctState: .integer(bytes: 4, bigEndian: false)
        case .nfproto, .l4proto, .icmpType, .icmpCode, .icmpv6Type, .icmpv6Code, .ctDirection:
            .integer(bytes: 1, bigEndian: false)
        case .etherType, .vlanID, .transportSport, .transportDport: .integer(bytes: 2, bigEndian: true)
        case .etherSaddr, .etherDaddr, .arpSenderMAC: .ether
        case .arpSenderIP, .ipSaddr, .ipDaddr: .ipv4
        case .ip6Saddr, .ip6Daddr: .ipv6
        }
    }

    /// nft's datatype of the selector, for the key of an anonymous set.
    var nftTypeID: UInt32 {
        switch self {
        case .iifname, .oifname: 41
        case .mark: 19
        case .nfproto: 2
        case .l4proto: 12
        case .etherType: 10
        case .etherSaddr, .etherDaddr, .arpSenderMAC: 9
        case .vlanID: 4
        case .arpSenderIP, .ipSaddr, .ipDaddr: 7
        case .ip6Saddr, .ip6Daddr: 8
        case .transportSport, .transportDport: 13
        case .icmpType: 14
        case .icmpCode: 32
        case .icmpv6Type: 29
        case .icmpv6Code: 33
        case .ctState: 26
        case .ctDirection: 27
        }
    }

    /// The bytes of a single value in this selector's register layout.
    func bytes(_ value: NFTValue) -> [UInt8]? {
        switch value {
        case .integer(let n): wire.bytes(n)
        case .ifname(let name): NFTWire.ifname(name)
        case .ifnamePrefix(let prefix): Array(prefix.utf8)
        case .mac(let mac): NFTWire.mac(mac)
        case .address(let range) where range.lower == range.upper: NFTWire.address(range.lower)
        case .address, .range: nil
        }
    }
}
