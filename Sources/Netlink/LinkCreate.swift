import CNetlink
import HostModel

#if canImport(Glibc)
import Glibc
#endif

/// Creating and deleting the devices the project owns. Each device is made
/// by one RTM_NEWLINK carrying its kind, its settings, its master and IFF_UP,
/// so a failure at any step (the kernel unregisters the device again) leaves
/// nothing half made behind.
extension LinkConnection {
    /// Equivalent to: `ip link add NAME up type bridge [vlan_filtering 1
    /// vlan_default_pvid 0]`. The default PVID is turned off so a port joins
    /// no VLAN (not VLAN 1) until it is given its own. Fails with EEXIST when
    /// the name is taken, EOPNOTSUPP for VLAN filtering on a kernel without it.
    func addBridge(_ bridge: Bridge) throws(NetlinkError) {
        let what = "add bridge \(bridge.name)\(bridge.vlanFiltering ? " with vlan_filtering 1" : "")"
        try socket.request(LinkRequest.addBridge(bridge, sequence: socket.reserveSequences(1)), what: what)
    }

    /// Equivalent to: `ip link add NAME up master BRIDGE type vxlan id VNI
    /// [local IP] [dev UNDERLAY] dstport PORT`, IPv4 or IPv6 local address.
    func addVXLAN(_ device: VXLANDevice) throws(NetlinkError) {
        let what = "add vxlan \(device.name) (vni \(device.vni)) on bridge \(device.bridge)"
        let bridge = try existingBridge(device.bridge, what: what)
        let underlay = try device.underlay.map { name throws(NetlinkError) in try existingLink(name, what: what).index }
        let message = LinkRequest.addVXLAN(
            device, bridge: bridge.index, underlay: underlay, sequence: socket.reserveSequences(1))
        try socket.request(message, what: what)
    }

    /// Equivalent to: `ip link del NAME`, after checking that NAME is a
    /// device of `kind`, so a name clash never deletes someone else's device.
    func deleteLink(_ name: String, kind: String?, what: String) throws(NetlinkError) {
        let record = try existingLink(name, what: what)
        if let kind, record.kind != kind {
            throw NetlinkError(operation: "\(what) (\(name) is \(record.kindDescription), not a \(kind))", errno: EINVAL)
        }
        try socket.request(LinkRequest.deleteLink(index: record.index, sequence: socket.reserveSequences(1)), what: what)
    }
}
