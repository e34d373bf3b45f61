import HostModel
import PolicyModel

/// The boundary to a host's kernel, as the dataplane needs it. The real one
/// talks netlink (`NetlinkKernel`); the in-memory one (`MemoryKernel`) lets
/// everything above be tested without root.
public protocol Kernel: AnyObject {
    /// The given tables as they are (absent ones left out).
    func readTables(_ ids: [NFTTableID]) throws -> [NFTTable]
    /// All operations in one atomic batch: on any error nothing changes.
    func applyTables(_ operations: [NFTOperation]) throws
    /// The project's links (bridges, VXLAN devices, their ports and flood
    /// entries); `trunkDevices` are the uplinks, read as trunks.
    func readLinks(trunkDevices: Set<String>) throws -> LinkState
    func applyLink(_ operation: LinkOperation) throws
    func deviceExists(_ name: String) throws -> Bool
    /// Deletes the connection-tracking entries of these zones.
    func deleteConnections(zones: Set<UInt16>) throws
    func capabilities() throws -> KernelCapabilities
}

/// What the kernel of this host (namespace) can do, as far as the project cares.
public struct KernelCapabilities: Hashable, Sendable, Codable {
    /// Bridged IPv4/IPv6 traffic passes the inet hooks (br_netfilter with
    /// net.bridge.bridge-nf-call-iptables and -ip6tables = 1). Without it
    /// the stateful filtering would never see bridged packets.
    public var bridgeNetfilter: Bool
    public var vlanFiltering: Bool
    public var vlanDevices: Bool
    public var vxlan: Bool
    public var bridgeConntrack: Bool
    public var notes: [String]

    public init(
        bridgeNetfilter: Bool, vlanFiltering: Bool, vlanDevices: Bool, vxlan: Bool, bridgeConntrack: Bool,
        notes: [String] = []
    ) {
        self.bridgeNetfilter = bridgeNetfilter
        self.vlanFiltering = vlanFiltering
        self.vlanDevices = vlanDevices
        self.vxlan = vxlan
        self.bridgeConntrack = bridgeConntrack
        self.notes = notes
    }

    /// The kernel options a state needs that this kernel lacks, each with
    /// what needs it. Empty when the state can be applied.
    public func missing(for state: HostState) -> [String] {
        var missing: [String] = []
        if !state.tables.isEmpty && !bridgeNetfilter {
            missing.append(
                "br_netfilter with net.bridge.bridge-nf-call-iptables=1 and bridge-nf-call-ip6tables=1 (CONFIG_BRIDGE_NETFILTER; modprobe br_netfilter): without it bridged traffic bypasses the security groups")
        }
        if let bridge = state.links.bridges.values.first(where: \.vlanFiltering), !vlanFiltering {
            missing.append(
                "bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING), needed by \(bridge.name) for the VLAN networks")
        }
        if !state.links.vxlans.isEmpty && !vxlan {
            missing.append("VXLAN devices (CONFIG_VXLAN), needed by \(state.links.vxlans.keys.sorted().joined(separator: ", "))")
        }
        return missing
    }
}
