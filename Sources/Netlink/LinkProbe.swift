import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// What the kernel can do with links, found by trying. Notes give the
/// errno and kernel text of each failed try.
public struct LinkCapabilities: Hashable, Sendable, Codable {
    /// VXLAN devices (CONFIG_VXLAN).
    public var vxlan: Bool
    /// VLAN-aware bridges with per-port VLANs (CONFIG_BRIDGE_VLAN_FILTERING).
    public var vlanFiltering: Bool
    /// 802.1Q devices such as `eth1.100` (CONFIG_VLAN_8021Q).
    public var vlanDevices: Bool
    /// Bridges (CONFIG_BRIDGE); the others are only tried when this works.
    public var bridge: Bool
    public var notes: [String]

    public init(vxlan: Bool, vlanFiltering: Bool, vlanDevices: Bool, bridge: Bool = true, notes: [String] = []) {
        self.vxlan = vxlan
        self.vlanFiltering = vlanFiltering
        self.vlanDevices = vlanDevices
        self.bridge = bridge
        self.notes = notes
    }
}

extension LinkConnection {
    /// What this kernel can do, by creating throwaway devices with unique
    /// `sgp?-XXXXXXXX` names and deleting them again, each with a real
    /// rtnetlink request:
    /// - bridge: `ip link add B type bridge`
    /// - VLAN filtering: `ip link add F type bridge vlan_filtering 1
    ///   vlan_default_pvid 0`, then `bridge vlan add dev F vid 2 self`
    /// - 802.1Q devices: `ip link add link B name Q type vlan id 2`
    /// - VXLAN: `ip link add X type vxlan id RANDOM dstport 4789`
    /// None is brought up, so nothing sends or binds anything.
    public func probe() -> LinkCapabilities {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        func name(_ letter: Character) -> String { "sgp\(letter)-\(tag)" }
        var notes: [String] = []
        var created: [String] = []
        func deleteCreated() {
            for device in created.reversed() {
                do {
                    try deleteLink(device, kind: nil, what: "delete probe device \(device)")
                } catch {
                    notes.append("probe: \(error)")
                }
            }
        }

        func attempt(_ feature: String, _ body: () throws(NetlinkError) -> Void) -> Bool {
            do {
                try body()
                return true
            } catch {
                notes.append("\(feature): \(error)")
                return false
            }
        }

        func create(_ device: String, _ message: RTMessage, what: String) throws(NetlinkError) {
            try socket.request(message, what: what)
            created.append(device)
        }

        let bridgeName = name("b")
        let bridge = attempt("bridge") { () throws(NetlinkError) in
            let message = LinkRequest.newLink(
                name: bridgeName, kind: "bridge", up: false, sequence: socket.reserveSequences(1))
            try create(bridgeName, message, what: "add bridge \(bridgeName)")
        }
        guard bridge else {
            return LinkCapabilities(vxlan: false, vlanFiltering: false, vlanDevices: false, bridge: false, notes: notes)
        }

        let filterName = name("f")
        let vlanFiltering = attempt("bridge VLAN filtering") { () throws(NetlinkError) in
            let message = LinkRequest.newLink(
                name: filterName, kind: "bridge", up: false, sequence: socket.reserveSequences(1)) { message in
                message.nest(IFLA_INFO_DATA) {
                    message.put(IFLA_BR_VLAN_FILTERING, u8: 1)
                    message.put(IFLA_BR_VLAN_DEFAULT_PVID, u16: 0)
                }
            }
            try create(filterName, message, what: "add bridge \(filterName) with vlan_filtering 1")
            let index = try existingLink(filterName, what: "look up \(filterName)").index
            try addVLANs(
                [PortVLAN(vid: 2, flags: 0)], device: index, self: true,
                what: "bridge vlan add dev \(filterName) vid 2 self")
        }

        let vlanName = name("q")
        let vlanDevices = attempt("802.1Q devices") { () throws(NetlinkError) in
            let lower = try existingLink(bridgeName, what: "look up \(bridgeName)").index
            let message = LinkRequest.newLink(
                name: vlanName, kind: "vlan", lower: lower, up: false, sequence: socket.reserveSequences(1)) { message in
                message.nest(IFLA_INFO_DATA) { message.put(IFLA_VLAN_ID, u16: 2) }
            }
            try create(vlanName, message, what: "add vlan \(vlanName) id 2 on \(bridgeName)")
        }

        let vxlanName = name("x")
        let vxlan = attempt("VXLAN") { () throws(NetlinkError) in
            // A random VNI, again on EEXIST: a device with the same VNI and
            // port may exist already.
            var tries = 0
            while true {
                let vni = UInt32.random(in: 0x80_0000...0xFF_FFFF)
                let message = LinkRequest.newLink(
                    name: vxlanName, kind: "vxlan", up: false, sequence: socket.reserveSequences(1)) { message in
                    message.nest(IFLA_INFO_DATA) {
                        message.put(IFLA_VXLAN_ID, u32: vni)
                        message.put(IFLA_VXLAN_PORT, be16: 4789)
                    }
                }
                do throws(NetlinkError) {
                    try create(vxlanName, message, what: "add vxlan \(vxlanName) id \(vni) dstport 4789")
                    return
                } catch let error where error.errno == EEXIST && tries < 3 {
                    tries += 1
                }
            }
        }

        deleteCreated()
        return LinkCapabilities(
            vxlan: vxlan, vlanFiltering: vlanFiltering, vlanDevices: vlanDevices, bridge: true, notes: notes)
    }
}
