import PolicyModel

/// One change to a host's links.
public enum LinkOperation: Hashable, Sendable, Codable {
    case addBridge(Bridge)
    case deleteBridge(String)
    case addVXLAN(VXLANDevice)
    case deleteVXLAN(String)
    case addFlood(FloodEntry)
    case deleteFlood(FloodEntry)
    /// Puts a device on a bridge (or moves it, or changes its PVID).
    case attachPort(device: String, BridgePort)
    case detachPort(device: String)
    case attachTrunk(device: String, bridge: String)
    case detachTrunk(device: String)
    case addTrunkVLANs(device: String, [UInt16])
    case deleteTrunkVLANs(device: String, [UInt16])
}

/// One change to a host's nftables objects. A delta's operations go to the
/// kernel in one atomic batch, in the order listed.
public enum NFTOperation: Hashable, Sendable, Codable {
    case addTable(NFTTableID)
    case deleteTable(NFTTableID)
    /// Creates a set with its elements.
    case addSet(NFTTableID, NFTSet)
    case deleteSet(NFTTableID, name: String)
    case addElements(NFTTableID, set: String, [NFTElement])
    case deleteElements(NFTTableID, set: String, [NFTElement])
    /// Creates a chain with its rules.
    case addChain(NFTTableID, NFTChain)
    case deleteChain(NFTTableID, name: String)
    /// Replaces all rules of one chain (flush and refill, atomically).
    case replaceRules(NFTTableID, chain: String, [NFTRule])
}

/// The difference of two host states as operations: applying `diff(a, b)`
/// to `a` yields `b`, and `diff(a, a)` is empty.
public struct HostDelta: Hashable, Sendable, Codable {
    public var links: [LinkOperation]
    public var nft: [NFTOperation]

    public init(links: [LinkOperation] = [], nft: [NFTOperation] = []) {
        self.links = links
        self.nft = nft
    }

    public var isEmpty: Bool { links.isEmpty && nft.isEmpty }

    /// How many kernel objects the delta touches: each element, rule-set
    /// replacement, chain, set, table and link operation counts one.
    public var operationCount: Int {
        links.count
            + nft.reduce(0) { sum, op in
                switch op {
                case .addElements(_, _, let e), .deleteElements(_, _, let e): sum + e.count
                default: sum + 1
                }
            }
    }
}

extension HostDelta {
    /// The delta's operations by kind (`add_elements`, `replace_rules`,
    /// `attach_port`, ...), counted as `operationCount` counts them: each
    /// element one. For metrics and summaries.
    public var operationsByKind: [String: Int] {
        var counts: [String: Int] = [:]
        for op in links { counts[op.kind, default: 0] += 1 }
        for op in nft {
            switch op {
            case .addElements(_, _, let e), .deleteElements(_, _, let e): counts[op.kind, default: 0] += e.count
            default: counts[op.kind, default: 0] += 1
            }
        }
        return counts
    }
}

extension NFTOperation {
    public var kind: String {
        switch self {
        case .addTable: "add_table"
        case .deleteTable: "delete_table"
        case .addSet: "add_set"
        case .deleteSet: "delete_set"
        case .addElements: "add_elements"
        case .deleteElements: "delete_elements"
        case .addChain: "add_chain"
        case .deleteChain: "delete_chain"
        case .replaceRules: "replace_rules"
        }
    }
}

extension LinkOperation {
    public var kind: String {
        switch self {
        case .addBridge: "add_bridge"
        case .deleteBridge: "delete_bridge"
        case .addVXLAN: "add_vxlan"
        case .deleteVXLAN: "delete_vxlan"
        case .addFlood: "add_flood"
        case .deleteFlood: "delete_flood"
        case .attachPort: "attach_port"
        case .detachPort: "detach_port"
        case .attachTrunk: "attach_trunk"
        case .detachTrunk: "detach_trunk"
        case .addTrunkVLANs: "add_trunk_vlans"
        case .deleteTrunkVLANs: "delete_trunk_vlans"
        }
    }
}
