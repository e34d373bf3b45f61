import HostModel
import PolicyModel

/// An in-memory kernel for tests above the netlink layer: it keeps a
/// HostState, applies operations with the kernel's rules (via
/// `HostState.applying`), records every call in order, and can be told to
/// fail. It is `@unchecked Sendable` so a test can look at it while an
/// enforcer owns the dataplane around it; tests touch it only while the
/// enforcer is idle (after awaiting it).
public final class MemoryKernel: Kernel, @unchecked Sendable {
    public var state: HostState
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
        ids.compactMap { state.tables[$0] }
    }

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

    public func applyTables(_ operations: [NFTOperation]) throws {
        if let reason = failNextBatch {
            failNextBatch = nil
            throw DeltaMismatch(message: reason)
        }
        state = try state.applying(HostDelta(nft: operations))
        log.append("nft batch (\(operations.count) ops)")
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
