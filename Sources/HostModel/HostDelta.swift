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
