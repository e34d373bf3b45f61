import CNetlink
import HostModel

/// Reading the project's links back as a `LinkState`, the same value the
/// compiler produces, so `diff(read, desired)` is what needs doing.
extension LinkConnection {
    /// The project's links as they are: bridges named with `bridgePrefix`,
    /// VXLAN devices named with `vxlanPrefix` (VNI, local address, underlay,
    /// port, master), their flood entries, and every other device on one of
    /// those bridges: a port, or a trunk when its name is in `trunkDevices`.
    /// Everything else (other bridges and their ports) is left out.
    /// Equivalent to: `ip -d link show`, `bridge fdb show` and `bridge vlan
    /// show`, each only when needed.
    public func read(bridgePrefix: String, vxlanPrefix: String, trunkDevices: Set<String>) throws(NetlinkError) -> LinkState {
        let links = try dumpLinks(what: "read links (ip -d link show)")
        var scope = LinkScope(bridgePrefix: bridgePrefix, vxlanPrefix: vxlanPrefix, trunkDevices: trunkDevices)
        scope.select(links)
        if !scope.vxlans.isEmpty {
            let devices = Dictionary(uniqueKeysWithValues: scope.vxlans.map { ($0.index, $0.name) })
            scope.floods = try dumpFloodEntries(devices: devices, what: "read flood entries (bridge fdb show)")
        }
        if scope.bridges.contains(where: { $0.vlanFiltering == true }) {
            scope.vlans = try dumpVLANs(what: "read bridge VLANs (bridge vlan show)")
        }
        return scope.state(links: links)
    }

    /// Every link of the namespace. Equivalent to: `ip -d link show`
    /// (RTM_GETLINK dump, statistics left out).
    func dumpLinks(what: String) throws(NetlinkError) -> [LinkRecord] {
        try socket.dump(
            what: what,
            build: LinkRequest.dumpLinks(sequence:),
            parse: LinkRecord.init(message:))
    }
}

/// Which of a namespace's links belong to the project, and the `LinkState`
/// they make. Pure: the rules of `read` without a kernel.
struct LinkScope {
    var bridgePrefix: String
    var vxlanPrefix: String
    var trunkDevices: Set<String>
    var bridges: [LinkRecord] = []
    var vxlans: [LinkRecord] = []
    var floods: [FloodEntry] = []
    /// Bridge VLANs by interface index (only read when a bridge is VLAN-aware).
    var vlans: [Int32: [PortVLAN]] = [:]

    /// Picks the project's bridges and VXLAN devices: name prefix and kind
    /// must both match (a veth called `sgbr-x` is not a bridge of ours).
    mutating func select(_ links: [LinkRecord]) {
        bridges = links.filter { $0.kind == "bridge" && $0.name.hasPrefix(bridgePrefix) }
        vxlans = links.filter { $0.kind == "vxlan" && $0.name.hasPrefix(vxlanPrefix) && $0.vxlan != nil }
    }

    func state(links: [LinkRecord]) -> LinkState {
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        let ourBridges = Dictionary(uniqueKeysWithValues: bridges.map { ($0.index, $0) })
        var state = LinkState()
        for bridge in bridges {
            state.bridges[bridge.name] = Bridge(name: bridge.name, vlanFiltering: bridge.vlanFiltering == true)
        }
        for device in vxlans {
            guard let vxlan = device.vxlan else { continue }
            state.vxlans[device.name] = VXLANDevice(
                name: device.name, vni: vxlan.vni, local: vxlan.local, underlay: vxlan.underlay.flatMap { names[$0] },
                port: vxlan.port,
                // Not on a bridge (or on someone else's): the name that is
                // there, "" for none, so the diff rebuilds the device.
                bridge: device.master.flatMap { names[$0] } ?? "")
        }
        state.floods = Set(floods)
        let vxlanIndices = Set(vxlans.map(\.index))
        for link in links where !vxlanIndices.contains(link.index) {
            guard let master = link.master, let bridge = ourBridges[master] else { continue }
            let vlanAware = bridge.vlanFiltering == true
            let portVLANs = vlans[link.index] ?? []
            if trunkDevices.contains(link.name) {
                // Tagged VLANs only; attachTrunk removes untagged ones.
                let tagged = vlanAware ? Set(portVLANs.filter(\.isTagged).map(\.vid)) : []
                state.trunks[link.name] = Trunk(bridge: bridge.name, vlans: tagged)
            } else {
                state.ports[link.name] = BridgePort(bridge: bridge.name, pvid: vlanAware ? Self.pvid(portVLANs) : nil)
            }
        }
        return state
    }

    /// A VM port's PVID, reported only when the port is in exactly that one
    /// VLAN, untagged. A port in any other VLAN as well reads as having no
    /// PVID, so it differs from the desired state and gets attached again,
    /// which removes the extra VLAN: a VM must not reach another tenant's
    /// VLAN with tagged frames.
    static func pvid(_ vlans: [PortVLAN]) -> UInt16? {
        guard vlans.count == 1, let only = vlans.first, only.flags & PortVLAN.pvidUntagged == PortVLAN.pvidUntagged
        else { return nil }
        return only.vid
    }
}
