import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// One VLAN of a bridge port: `struct bridge_vlan_info` in IFLA_AF_SPEC.
struct PortVLAN: Hashable {
    var vid: UInt16
    /// BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED, ...
    var flags: UInt16

    static let pvidUntagged = UInt16(BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED)

    var isTagged: Bool { flags & PortVLAN.pvidUntagged == 0 }
}

/// Bridge port VLANs (AF_BRIDGE link messages). None of this works on a
/// kernel without CONFIG_BRIDGE_VLAN_FILTERING: changes fail with EOPNOTSUPP
/// and the dump carries no VLANs.
extension LinkConnection {
    /// Equivalent to: `bridge vlan add dev DEV vid VID [pvid untagged]
    /// [self]` for each VLAN. Adding a VLAN the port has replaces its flags.
    func addVLANs(_ vlans: [PortVLAN], device: Int32, self onSelf: Bool = false, what: String) throws(NetlinkError) {
        let message = LinkRequest.vlans(vlans, device: device, add: true, self: onSelf, sequence: socket.reserveSequences(1))
        try socket.request(message, what: what)
    }

    /// Equivalent to: `bridge vlan del dev DEV vid VID` for each VLAN.
    /// ENOENT for a VLAN the port doesn't have.
    func deleteVLANs(_ vids: [UInt16], device: Int32, what: String) throws(NetlinkError) {
        guard !vids.isEmpty else { return }
        let vlans = vids.map { PortVLAN(vid: $0, flags: 0) }
        try socket.request(
            LinkRequest.vlans(vlans, device: device, add: false, sequence: socket.reserveSequences(1)), what: what)
    }

    /// The VLANs of every bridge port (and bridge) by interface index.
    /// Equivalent to: `bridge vlan show`.
    func dumpVLANs(what: String) throws(NetlinkError) -> [Int32: [PortVLAN]] {
        let entries = try socket.dump(
            what: what,
            build: LinkRequest.dumpVLANs(sequence:),
            parse: { message -> (Int32, [PortVLAN])? in
                guard Int(message.pointee.nlmsg_type) == RTM_NEWLINK else { return nil }
                let info = UnsafeRawPointer(message).loadUnaligned(
                    fromByteOffset: MemoryLayout<nlmsghdr>.size, as: ifinfomsg.self)
                let attributes = RTAttributes(message: message, familyHeaderSize: MemoryLayout<ifinfomsg>.size)
                let vlans = (attributes.nested(IFLA_AF_SPEC)?.all(IFLA_BRIDGE_VLAN_INFO) ?? []).compactMap {
                    payload -> PortVLAN? in
                    guard let info: bridge_vlan_info = RTAttributes.load(payload) else { return nil }
                    return PortVLAN(vid: info.vid, flags: info.flags)
                }
                return (info.ifi_index, vlans)
            })
        // A port can appear twice (its bridge's answer and its own); merge.
        var byIndex: [Int32: [PortVLAN]] = [:]
        for (index, vlans) in entries {
            byIndex[index, default: []].append(contentsOf: vlans.filter { !(byIndex[index]?.contains($0) ?? false) })
        }
        return byIndex
    }
}
