import CNetlink
import PolicyModel

/// One link as an RTM_NEWLINK message describes it (a dump entry or the
/// answer to RTM_GETLINK), reduced to what the project reads.
/// Equivalent to one device of `ip -d link show`.
struct LinkRecord: Hashable {
    var index: Int32
    var name: String
    /// IFF_UP and friends (`ifi_flags`).
    var flags: UInt32
    /// IFLA_MASTER: the bridge it is enslaved to.
    var master: Int32?
    /// IFLA_INFO_KIND: "bridge", "vxlan", "veth", ... (nil for physical NICs).
    var kind: String?
    /// IFLA_BR_VLAN_FILTERING of a bridge.
    var vlanFiltering: Bool?
    var vxlan: VXLANAttributes?

    /// IFLA_INFO_DATA of a VXLAN device.
    struct VXLANAttributes: Hashable {
        var vni: UInt32  // IFLA_VXLAN_ID
        var local: IPAddress?  // IFLA_VXLAN_LOCAL or IFLA_VXLAN_LOCAL6
        var underlay: Int32?  // IFLA_VXLAN_LINK
        var port: UInt16  // IFLA_VXLAN_PORT (network byte order on the wire)
    }

    var isUp: Bool { flags & UInt32(IFF_UP) != 0 }

    init(index: Int32, name: String, flags: UInt32 = 0, master: Int32? = nil, kind: String? = nil,
         vlanFiltering: Bool? = nil, vxlan: VXLANAttributes? = nil) {
        self.index = index
        self.name = name
        self.flags = flags
        self.master = master
        self.kind = kind
        self.vlanFiltering = vlanFiltering
        self.vxlan = vxlan
    }

    /// Nil for anything but an RTM_NEWLINK or RTM_DELLINK (same layout)
    /// with a name.
    init?(message: UnsafePointer<nlmsghdr>) {
        guard [RTM_NEWLINK, RTM_DELLINK].contains(Int(message.pointee.nlmsg_type)),
            Int(message.pointee.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + MemoryLayout<ifinfomsg>.size
        else { return nil }
        let info = UnsafeRawPointer(message).loadUnaligned(fromByteOffset: MemoryLayout<nlmsghdr>.size, as: ifinfomsg.self)
        let attributes = RTAttributes(message: message, familyHeaderSize: MemoryLayout<ifinfomsg>.size)
        guard let name = attributes.string(Int(IFLA_IFNAME)) else { return nil }
        self.init(index: info.ifi_index, name: name, flags: info.ifi_flags)
        master = attributes.u32(Int(IFLA_MASTER)).flatMap { $0 == 0 ? nil : Int32(bitPattern: $0) }
        guard let linkInfo = attributes.nested(Int(IFLA_LINKINFO)) else { return }
        kind = linkInfo.string(IFLA_INFO_KIND)
        let data = linkInfo.nested(IFLA_INFO_DATA)
        switch kind {
        case "bridge":
            vlanFiltering = data?.u8(IFLA_BR_VLAN_FILTERING).map { $0 != 0 }
        case "vxlan":
            guard let data, let vni = data.u32(IFLA_VXLAN_ID) else { return }
            let local = (data[IFLA_VXLAN_LOCAL] ?? data[IFLA_VXLAN_LOCAL6]).flatMap(IPAddress.init(networkBytes:))
            vxlan = VXLANAttributes(
                vni: vni, local: local,
                underlay: data.u32(IFLA_VXLAN_LINK).flatMap { $0 == 0 ? nil : Int32(bitPattern: $0) },
                port: data.be16(IFLA_VXLAN_PORT) ?? 0)
        default:
            break
        }
    }
}
