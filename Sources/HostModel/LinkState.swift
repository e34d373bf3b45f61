import PolicyModel

// The link part of a host's state: bridges, VXLAN devices with their flood
// entries, the VLAN trunk, and which VM device sits on which bridge.

public struct Bridge: Hashable, Sendable, Codable {
    public var name: String
    /// A VLAN-aware bridge: each port has a PVID (`ip link add NAME type
    /// bridge vlan_filtering 1`).
    public var vlanFiltering: Bool

    public init(name: String, vlanFiltering: Bool) {
        self.name = name
        self.vlanFiltering = vlanFiltering
    }
}

/// A VXLAN device carrying one network's VNI, enslaved to that network's bridge.
/// Equivalent to: `ip link add NAME type vxlan id VNI local VTEP dev UPLINK dstport 4789`.
public struct VXLANDevice: Hashable, Sendable, Codable {
    public static let defaultPort: UInt16 = 4789

    public var name: String
    public var vni: UInt32
    public var local: IPAddress?
    public var underlay: String?
    public var port: UInt16
    public var bridge: String

    public init(name: String, vni: UInt32, local: IPAddress?, underlay: String?, port: UInt16 = defaultPort, bridge: String) {
        self.name = name
        self.vni = vni
        self.local = local
        self.underlay = underlay
        self.port = port
        self.bridge = bridge
    }
}

/// Broadcast, unknown-unicast and multicast frames of a VXLAN device go to
/// every remote VTEP of its network. Equivalent to:
/// `bridge fdb append 00:00:00:00:00:00 dev DEVICE dst REMOTE`.
public struct FloodEntry: Hashable, Sendable, Codable, Comparable {
    public var device: String
    public var remote: IPAddress

    public init(device: String, remote: IPAddress) {
        self.device = device
        self.remote = remote
    }

    public static func < (a: FloodEntry, b: FloodEntry) -> Bool { (a.device, a.remote) < (b.device, b.remote) }
}

/// A VM's device on a bridge. Equivalent to: `ip link set DEVICE master
/// BRIDGE` and, on a VLAN-aware bridge, `bridge vlan add dev DEVICE vid PVID
/// pvid untagged`.
public struct BridgePort: Hashable, Sendable, Codable {
    public var bridge: String
    public var pvid: UInt16?

    public init(bridge: String, pvid: UInt16? = nil) {
        self.bridge = bridge
        self.pvid = pvid
    }
}

/// The uplink on the VLAN-aware bridge, carrying tagged frames of exactly the
/// VLANs that have ports on this host. Equivalent to: `ip link set UPLINK
/// master BRIDGE` and `bridge vlan add dev UPLINK vid ID` per VLAN.
public struct Trunk: Hashable, Sendable, Codable {
    public var bridge: String
    public var vlans: Set<UInt16>

    public init(bridge: String, vlans: Set<UInt16>) {
        self.bridge = bridge
        self.vlans = vlans
    }

    /// Sorted, so equal states encode to equal bytes (see `LinkState`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bridge, forKey: .bridge)
        try c.encode(vlans.sorted(), forKey: .vlans)
    }
}

public struct LinkState: Hashable, Sendable, Codable {
    public var bridges: [String: Bridge]
    public var vxlans: [String: VXLANDevice]
    public var floods: Set<FloodEntry>
    /// Device name → where it is attached.
    public var ports: [String: BridgePort]
    /// Uplink device name → its trunk.
    public var trunks: [String: Trunk]

    public init(
        bridges: [String: Bridge] = [:], vxlans: [String: VXLANDevice] = [:], floods: Set<FloodEntry> = [],
        ports: [String: BridgePort] = [:], trunks: [String: Trunk] = [:]
    ) {
        self.bridges = bridges
        self.vxlans = vxlans
        self.floods = floods
        self.ports = ports
        self.trunks = trunks
    }

    /// Sets sorted, so equal states encode to equal bytes whatever the
    /// process (a `Set` encodes in its per-process hash order): etcd holds
    /// these bytes, and a publisher compares their digests.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bridges, forKey: .bridges)
        try c.encode(vxlans, forKey: .vxlans)
        try c.encode(floods.sorted(), forKey: .floods)
        try c.encode(ports, forKey: .ports)
        try c.encode(trunks, forKey: .trunks)
    }
}
