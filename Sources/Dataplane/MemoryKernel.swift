import HostModel
import PolicyModel

/// An in-memory kernel for tests above the netlink layer: it keeps a
/// HostState, applies operations with the kernel's rules (via
/// `HostState.applying`), records every call in order, and can be told to
/// fail. It is `@unchecked Sendable` so a test can look at it while an
/// enforcer owns the dataplane around it; tests touch it only while the
/// enforcer is idle (after awaiting it).
public final class MemoryKernel: Kernel, @unchecked Sendable {
    /// What the kernel holds. Changing it (a test's drift) bumps the
    /// ruleset generation, as any commit does in a real kernel.
    public var state: HostState { didSet { if oldValue.tables != state.tables { generation &+= 1 } } }
    public private(set) var generation: UInt32 = 1
    /// How many times the tables were read.
    public private(set) var tableReads = 0
    /// Devices that exist besides the ones the project creates (VM taps, uplinks).
    public var devices: Set<String>
    public var capabilitiesValue: KernelCapabilities
    /// Every call that changed something, in order: "nft batch (N ops)", "link …".
    public private(set) var log: [String] = []
    /// Makes the next nftables batch fail, changing nothing.
    public var failNextBatch: String?

    public init(state: HostState = HostState(), devices: Set<String> = [], capabilities: KernelCapabilities? = nil) {
        self.state = state
        self.devices = devices
        self.capabilitiesValue = capabilities
            ?? KernelCapabilities(bridgeNetfilter: true, vlanFiltering: true, vlanDevices: true, vxlan: true, bridgeConntrack: true)
    }

    public func readTables(_ ids: [NFTTableID]) throws -> [NFTTable] {
        tableReads += 1
        return ids.compactMap { state.tables[$0] }
    }

    public func rulesetGeneration() throws -> UInt32 { generation }

    /// No packets pass a memory kernel: every counter reads zero.
    public func readCounters(_ ids: [NFTTableID]) throws -> [NFTRuleCounter] {
        ids.compactMap { state.tables[$0] }.flatMap { table in
            table.chains.values.sorted { $0.name < $1.name }.flatMap { chain in
                chain.rules.enumerated().filter { $0.element.statements.contains(.counter) }.map { position, rule in
                    NFTRuleCounter(
                        table: table.id, chain: chain.name, chainComment: chain.comment, position: position,
                        ruleComment: rule.comment, packets: 0, bytes: 0)
                }
            }
        }
    }

    public func applyTables(_ operations: [NFTOperation], over current: [NFTTable]) throws -> UInt32 {
        if let reason = failNextBatch {
            failNextBatch = nil
            throw DeltaMismatch(message: reason)
        }
        let before = generation
        state = try state.applying(HostDelta(nft: operations))
        // A commit counts even when it changed nothing.
        if generation == before { generation &+= 1 }
        log.append("nft batch (\(operations.count) ops)")
        return generation
    }

    public func readLinks(trunkDevices: Set<String>) throws -> LinkState { state.links }

    public func applyLink(_ operation: LinkOperation) throws {
        state = try state.applying(HostDelta(links: [operation]))
        log.append("link \(operation)")
    }

    public func deviceExists(_ name: String) throws -> Bool {
        devices.contains(name) || state.links.bridges[name] != nil || state.links.vxlans[name] != nil
    }

    public func capabilities(probeAgain: Bool) throws -> KernelCapabilities { capabilitiesValue }

    public func deleteConnections(zones: Set<UInt16>) throws {
        log.append("conntrack delete zones \(zones.sorted().map(String.init).joined(separator: ","))")
    }

    public func deleteConnections(zone: UInt16, involving ranges: [IPRange]) throws -> Int {
        log.append("conntrack delete zone \(zone) involving \(ranges.map(\.description).joined(separator: ","))")
        return 0
    }
}
