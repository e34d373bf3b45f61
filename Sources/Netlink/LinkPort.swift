import CNetlink
import HostModel

#if canImport(Glibc)
import Glibc
#endif

/// Putting existing devices (VM taps, the uplink trunk) on bridges and taking
/// them off. These never touch a device's up/down state: the VM manager owns
/// it (`ifi_change` is 0).
extension LinkConnection {
    /// Equivalent to: `ip link set DEV master BRIDGE` and, on a VLAN-aware
    /// bridge, `bridge vlan add dev DEV vid PVID pvid untagged` plus `bridge
    /// vlan del dev DEV vid V` for every other VLAN the port had, so a VM's
    /// port is in exactly its own VLAN (or, without a PVID, in none).
    func attachPort(_ device: String, _ port: BridgePort) throws(NetlinkError) {
        let what = "attach port \(device) to bridge \(port.bridge)\(port.pvid.map { " with pvid \($0)" } ?? "")"
        let bridge = try existingBridge(port.bridge, what: what)
        let link = try existingLink(device, what: what)
        let vlanAware = bridge.vlanFiltering == true
        if let pvid = port.pvid, !vlanAware {
            throw NetlinkError(operation: "\(what) (bridge \(port.bridge) is not VLAN-aware, so pvid \(pvid) would mean nothing)", errno: EINVAL)
        }
        try setMaster(link.index, bridge.index, what: what)
        guard vlanAware else { return }
        // Untested on the development kernel (no CONFIG_BRIDGE_VLAN_FILTERING).
        let current = try dumpVLANs(what: "\(what): bridge vlan show")[link.index] ?? []
        if let pvid = port.pvid, !current.contains(PortVLAN(vid: pvid, flags: PortVLAN.pvidUntagged)) {
            try addVLANs(
                [PortVLAN(vid: pvid, flags: PortVLAN.pvidUntagged)], device: link.index,
                what: "\(what): bridge vlan add dev \(device) vid \(pvid) pvid untagged")
        }
        let others = current.map(\.vid).filter { $0 != port.pvid }
        try deleteVLANs(others, device: link.index, what: "\(what): bridge vlan del dev \(device) vid \(Self.list(others))")
    }

    /// Equivalent to: `ip link set DEV master BRIDGE`. On a VLAN-aware bridge
    /// any untagged or PVID VLAN the trunk got (a bridge with a default PVID
    /// gives one) is removed: a trunk carries tagged frames only, its VLANs
    /// come with `addTrunkVLANs`.
    func attachTrunk(_ device: String, bridge name: String) throws(NetlinkError) {
        let what = "attach trunk \(device) to bridge \(name)"
        let bridge = try existingBridge(name, what: what)
        let link = try existingLink(device, what: what)
        try setMaster(link.index, bridge.index, what: what)
        guard bridge.vlanFiltering == true else { return }
        // Untested on the development kernel (no CONFIG_BRIDGE_VLAN_FILTERING).
        let untagged = (try dumpVLANs(what: "\(what): bridge vlan show")[link.index] ?? []).filter { !$0.isTagged }.map(\.vid)
        try deleteVLANs(untagged, device: link.index, what: "\(what): bridge vlan del dev \(device) vid \(Self.list(untagged))")
    }

    /// Equivalent to: `bridge vlan add dev DEV vid V` (tagged: no pvid, no
    /// untagged; re-adding a VLAN the trunk has as untagged makes it tagged)
    /// or `bridge vlan del dev DEV vid V`, for each VLAN.
    func changeTrunkVLANs(_ device: String, _ vlans: [UInt16], add: Bool) throws(NetlinkError) {
        let what = add ? "add vlans \(Self.list(vlans)) to trunk \(device)" : "delete vlans \(Self.list(vlans)) from trunk \(device)"
        guard !vlans.isEmpty else { return }
        let link = try existingLink(device, what: what)
        if add {
            try addVLANs(vlans.map { PortVLAN(vid: $0, flags: 0) }, device: link.index, what: what)
        } else {
            try deleteVLANs(vlans, device: link.index, what: what)
        }
    }

    /// Equivalent to: `ip link set DEV nomaster` (a no-op when it has none).
    /// The kernel drops the port's VLANs with it.
    func detach(_ device: String, what: String) throws(NetlinkError) {
        let link = try existingLink(device, what: what)
        try setMaster(link.index, 0, what: what)
    }

    /// IFLA_MASTER (0: none). Moving to another bridge leaves the old one
    /// first; the same bridge again changes nothing.
    private func setMaster(_ index: Int32, _ master: Int32, what: String) throws(NetlinkError) {
        try socket.request(LinkRequest.setMaster(index: index, master: master, sequence: socket.reserveSequences(1)), what: what)
    }

    static func list(_ vids: [UInt16]) -> String { vids.map(String.init).joined(separator: ",") }
}
