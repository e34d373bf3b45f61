import HostModel
import PolicyModel

/// The boundary to a host's kernel, as the dataplane needs it. The real one
/// talks netlink (`NetlinkKernel`); the in-memory one (`MemoryKernel`) lets
/// everything above be tested without root.
public protocol Kernel: AnyObject {
    /// The given tables as they are (absent ones left out).
    func readTables(_ ids: [NFTTableID]) throws -> [NFTTable]
    /// The counters of the rules that have one, in the given tables.
    func readCounters(_ ids: [NFTTableID]) throws -> [NFTRuleCounter]
    /// The nftables ruleset generation, which the kernel bumps with every
    /// committed transaction in the namespace (anyone's, any table): while
    /// it stays the same, tables read before are still what the kernel has.
    func rulesetGeneration() throws -> UInt32
    /// All operations in one atomic batch: on any error nothing changes.
    /// `current` are the tables as read before (element changes to an
    /// existing set need its layout). Returns the ruleset generation right
    /// after the commit.
    @discardableResult
    func applyTables(_ operations: [NFTOperation], over current: [NFTTable]) throws -> UInt32
    /// The project's links (bridges, VXLAN devices, their ports and flood
    /// entries); `trunkDevices` are the uplinks, read as trunks.
    func readLinks(trunkDevices: Set<String>) throws -> LinkState
    func applyLink(_ operation: LinkOperation) throws
    func deviceExists(_ name: String) throws -> Bool
    /// Deletes the connection-tracking entries of these zones.
    func deleteConnections(zones: Set<UInt16>) throws
    /// Deletes the entries of one zone from or to these addresses; returns how many.
    func deleteConnections(zone: UInt16, involving ranges: [IPRange]) throws -> Int
    /// What the kernel can do. Probing takes a private namespace and tens
    /// of milliseconds, so an implementation may keep the features it found
    /// (the kernel doesn't lose them) and probe again only when asked.
    func capabilities(probeAgain: Bool) throws -> KernelCapabilities
}

extension Kernel {
    public func capabilities() throws -> KernelCapabilities { try capabilities(probeAgain: false) }
}

/// What the kernel of this host (namespace) can do, as far as the project cares.
public struct KernelCapabilities: Hashable, Sendable, Codable {
    /// Bridged IPv4/IPv6 traffic passes the inet hooks (br_netfilter with
    /// net.bridge.bridge-nf-call-iptables and -ip6tables = 1). Without it
    /// the stateful filtering would never see bridged packets.
    public var bridgeNetfilter: Bool
    /// br_netfilter also passes VLAN-tagged frames to the inet hooks
    /// (net.bridge.bridge-nf-filter-vlan-tagged = 1). On a VLAN-aware bridge
    /// a frame from the trunk keeps its tag until it leaves through the VM's
    /// port; without this switch it skips conntrack and the inet chains
    /// altogether: unfiltered towards the VM, and the VM's replies then
    /// look invalid.
    public var bridgeNetfilterVLAN: Bool
    public var vlanFiltering: Bool
    public var vlanDevices: Bool
    public var vxlan: Bool
    public var bridgeConntrack: Bool
    public var notes: [String]

    public init(
        bridgeNetfilter: Bool, bridgeNetfilterVLAN: Bool = true, vlanFiltering: Bool, vlanDevices: Bool, vxlan: Bool,
        bridgeConntrack: Bool, notes: [String] = []
    ) {
        self.bridgeNetfilter = bridgeNetfilter
        self.bridgeNetfilterVLAN = bridgeNetfilterVLAN
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
        if let bridge = state.links.bridges.values.first(where: \.vlanFiltering) {
            if !vlanFiltering {
                missing.append(
                    "bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING), needed by \(bridge.name) for the VLAN networks")
            }
            if !state.tables.isEmpty && !bridgeNetfilterVLAN {
                missing.append(
                    "net.bridge.bridge-nf-filter-vlan-tagged=1, needed by \(bridge.name) for the VLAN networks: without it frames arriving tagged on the trunk bypass the security groups")
            }
        }
        if !state.links.vxlans.isEmpty && !vxlan {
            missing.append("VXLAN devices (CONFIG_VXLAN), needed by \(state.links.vxlans.keys.sorted().joined(separator: ", "))")
        }
        return missing
    }
}
