import CNetlink
import HostModel
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// The rtnetlink requests of the link operations, built from interface
/// indices without a kernel. Each is byte for byte what the `ip` / `bridge`
/// command in its comment sends (iproute2 6.1), but for the sequence number;
/// the golden tests hold them to that.
enum LinkRequest {
    /// Equivalent to: `ip link add NAME [up] [master M] [link L] type KIND
    /// ...`: RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, then IFLA_MASTER,
    /// IFLA_LINK, IFLA_IFNAME, IFLA_LINKINFO { IFLA_INFO_KIND, what `info`
    /// adds }. The kernel sets IFF_UP after registering the device, then the
    /// master; if either fails it unregisters the device again.
    static func newLink(
        name: String, kind: String, master: Int32? = nil, lower: Int32? = nil, up: Bool, sequence: UInt32,
        info: (RTMessage) -> Void = { _ in }
    ) -> RTMessage {
        let message = RTMessage(type: RTM_NEWLINK, flags: NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, sequence: sequence)
        let upFlag = UInt32(IFF_UP)
        message.putLinkHeader(flags: up ? upFlag : 0, change: up ? upFlag : 0)
        if let master { message.put(IFLA_MASTER, u32: UInt32(bitPattern: master)) }
        if let lower { message.put(IFLA_LINK, u32: UInt32(bitPattern: lower)) }
        message.put(IFLA_IFNAME, string: name)
        message.nest(IFLA_LINKINFO) {
            message.put(IFLA_INFO_KIND, string: kind, nulTerminated: false)
            info(message)
        }
        return message
    }

    /// Equivalent to: `ip link add NAME up type bridge [vlan_filtering 1
    /// vlan_default_pvid 0]`.
    static func addBridge(_ bridge: Bridge, sequence: UInt32) -> RTMessage {
        newLink(name: bridge.name, kind: "bridge", up: true, sequence: sequence) { message in
            guard bridge.vlanFiltering else { return }
            message.nest(IFLA_INFO_DATA) {
                message.put(IFLA_BR_VLAN_FILTERING, u8: 1)
                message.put(IFLA_BR_VLAN_DEFAULT_PVID, u16: 0)
            }
        }
    }

    /// Equivalent to: `ip link add NAME up master BRIDGE type vxlan id VNI
    /// [local IP] [dev UNDERLAY] dstport PORT`. Learning is sent switched on
    /// explicitly, as `ip` does (it is the kernel's default).
    static func addVXLAN(_ device: VXLANDevice, bridge: Int32, underlay: Int32?, sequence: UInt32) -> RTMessage {
        newLink(name: device.name, kind: "vxlan", master: bridge, up: true, sequence: sequence) { message in
            message.nest(IFLA_INFO_DATA) {
                if let underlay { message.put(IFLA_VXLAN_LINK, u32: UInt32(bitPattern: underlay)) }
                message.put(IFLA_VXLAN_ID, u32: device.vni)
                if let local = device.local {
                    message.put(local.family == .ipv4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, bytes: local.networkBytes)
                }
                message.put(IFLA_VXLAN_LEARNING, u8: 1)
                message.put(IFLA_VXLAN_PORT, be16: device.port)
            }
        }
    }

    /// Equivalent to: `ip link del DEV`.
    static func deleteLink(index: Int32, sequence: UInt32) -> RTMessage {
        let message = RTMessage(type: RTM_DELLINK, flags: NLM_F_ACK, sequence: sequence)
        message.putLinkHeader(index: index)
        return message
    }

    /// Equivalent to: `ip link set DEV master BRIDGE`, or with 0 `ip link
    /// set DEV nomaster`. Flags are left alone (`ifi_change` 0).
    static func setMaster(index: Int32, master: Int32, sequence: UInt32) -> RTMessage {
        let message = RTMessage(type: RTM_NEWLINK, flags: NLM_F_ACK, sequence: sequence)
        message.putLinkHeader(index: index)
        message.put(IFLA_MASTER, u32: UInt32(bitPattern: master))
        return message
    }

    /// Equivalent to: `ip -d link show NAME` (without statistics).
    static func getLink(name: String, sequence: UInt32) -> RTMessage {
        let message = RTMessage(type: RTM_GETLINK, flags: NLM_F_ACK, sequence: sequence)
        message.putLinkHeader()
        message.put(IFLA_IFNAME, string: name)
        message.put(IFLA_EXT_MASK, u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        return message
    }

    /// Equivalent to: `ip -d link show` (a dump, without statistics).
    static func dumpLinks(sequence: UInt32) -> RTMessage {
        let message = RTMessage(type: RTM_GETLINK, flags: NLM_F_DUMP, sequence: sequence)
        message.putLinkHeader()
        message.put(IFLA_EXT_MASK, u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        return message
    }

    /// Equivalent to: `bridge fdb append 00:00:00:00:00:00 dev DEV dst IP`
    /// (RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND) or `bridge fdb del ...`
    /// (RTM_DELNEIGH): AF_BRIDGE, NTF_SELF (the VXLAN device's own table),
    /// NUD_NOARP | NUD_PERMANENT, NDA_LLADDR, NDA_DST.
    static func flood(_ remote: IPAddress, device: Int32, add: Bool, sequence: UInt32) -> RTMessage {
        let message = RTMessage(
            type: add ? RTM_NEWNEIGH : RTM_DELNEIGH, flags: NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_APPEND : 0),
            sequence: sequence)
        message.putNeighbourHeader(
            family: AF_BRIDGE, index: device, state: UInt16(NUD_NOARP | NUD_PERMANENT), flags: UInt8(NTF_SELF))
        message.put(NDA_LLADDR, bytes: floodMAC)
        message.put(NDA_DST, bytes: remote.networkBytes)
        return message
    }

    static let floodMAC: [UInt8] = [0, 0, 0, 0, 0, 0]

    /// Equivalent to: `bridge fdb show` (RTM_GETNEIGH dump, AF_BRIDGE).
    static func dumpFDB(sequence: UInt32) -> RTMessage {
        let message = RTMessage(type: RTM_GETNEIGH, flags: NLM_F_DUMP, sequence: sequence)
        message.putNeighbourHeader(family: AF_BRIDGE, index: 0, state: 0, flags: 0)
        return message
    }

    /// Equivalent to: `bridge vlan add dev DEV vid VID [pvid] [untagged]
    /// [self]` for each VLAN (RTM_SETLINK), or `bridge vlan del dev DEV vid
    /// VID` (RTM_DELLINK, flags ignored): AF_BRIDGE, IFLA_AF_SPEC {
    /// [IFLA_BRIDGE_FLAGS = BRIDGE_FLAGS_SELF,] IFLA_BRIDGE_VLAN_INFO... }.
    static func vlans(_ vlans: [PortVLAN], device: Int32, add: Bool, self onSelf: Bool = false, sequence: UInt32)
        -> RTMessage
    {
        // 8 bytes per VLAN: a trunk may carry all 4094.
        let message = RTMessage(
            type: add ? RTM_SETLINK : RTM_DELLINK, flags: NLM_F_ACK, sequence: sequence, capacity: 256 + 8 * vlans.count)
        message.putLinkHeader(family: AF_BRIDGE, index: device)
        message.nest(IFLA_AF_SPEC) {
            if onSelf { message.put(IFLA_BRIDGE_FLAGS, u16: UInt16(BRIDGE_FLAGS_SELF)) }
            for vlan in vlans {
                message.put(IFLA_BRIDGE_VLAN_INFO, raw: bridge_vlan_info(flags: add ? vlan.flags : 0, vid: vlan.vid))
            }
        }
        return message
    }

    /// Equivalent to: `bridge vlan show` (RTM_GETLINK dump, AF_BRIDGE,
    /// IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN: one entry per VLAN, no ranges).
    static func dumpVLANs(sequence: UInt32) -> RTMessage {
        let message = RTMessage(type: RTM_GETLINK, flags: NLM_F_DUMP, sequence: sequence)
        message.putLinkHeader(family: AF_BRIDGE)
        message.put(IFLA_EXT_MASK, u32: UInt32(RTEXT_FILTER_BRVLAN))
        return message
    }
}
