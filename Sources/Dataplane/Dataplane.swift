import HostModel
import PolicyCompiler
import PolicyModel

/// What apply would do on this host, computed against the live kernel.
public struct Plan: Hashable, Sendable, Codable {
    /// The operations, in the order they will be applied.
    public var delta: HostDelta
    /// Things of the desired state that can't be made yet because a device
    /// is missing (a VM whose tap doesn't exist yet, an absent uplink). Their
    /// filtering is in place already; a later apply attaches them.
    public var pending: [String]
    /// The devices of the ports among `pending`.
    public var pendingPorts: [String]
    /// Conntrack zones whose entries are deleted after the batch, because
    /// the change takes away something that was allowed: established
    /// connections there are checked against the new rules on their next packet.
    public var conntrackZones: [UInt16]
    /// The observed bridge ports, to put a detached port back if the batch fails.
    var observedPorts: [String: BridgePort]
    /// The tables the delta was computed against, and the ruleset
    /// generation they are of (nil when a commit came during the read).
    var observedTables: [NFTTable]
    var observedGeneration: UInt32?
    /// The tables once the delta is applied.
    var plannedTables: [NFTTable]

    public var isEmpty: Bool { delta.isEmpty }

    enum CodingKeys: String, CodingKey { case delta, pending, pendingPorts, conntrackZones }

    init(
        delta: HostDelta, pending: [String], pendingPorts: [String], conntrackZones: [UInt16], observedPorts: [String: BridgePort],
        observedTables: [NFTTable], observedGeneration: UInt32?, plannedTables: [NFTTable]
    ) {
        self.delta = delta
        self.pending = pending
        self.pendingPorts = pendingPorts
        self.conntrackZones = conntrackZones
        self.observedPorts = observedPorts
        self.observedTables = observedTables
        self.observedGeneration = observedGeneration
        self.plannedTables = plannedTables
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        delta = try c.decode(HostDelta.self, forKey: .delta)
        pending = try c.decode([String].self, forKey: .pending)
        pendingPorts = try c.decode([String].self, forKey: .pendingPorts)
        conntrackZones = try c.decode([UInt16].self, forKey: .conntrackZones)
        observedPorts = [:]
        observedTables = []
        plannedTables = []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(delta, forKey: .delta)
        try c.encode(pending, forKey: .pending)
        try c.encode(pendingPorts, forKey: .pendingPorts)
        try c.encode(conntrackZones, forKey: .conntrackZones)
    }
}

public enum DataplaneError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel lacks what the state needs; nothing was changed.
    case missingKernelFeatures([String])
    /// The nftables batch failed; nothing was changed.
    case batchFailed(String)
    /// A link operation failed after the nftables batch was committed; the
    /// operations before it are in effect, a later apply completes the rest.
    case linkFailed(operation: String, error: String, completed: Int)

    public var description: String {
        switch self {
        case .missingKernelFeatures(let missing):
            "this kernel can't carry the policy; nothing was changed. Missing: " + missing.joined(separator: "; ")
        case .batchFailed(let error):
            "the nftables batch failed, nothing was changed: \(error)"
        case .linkFailed(let operation, let error, let completed):
            "\(operation) failed after \(completed) link operations: \(error); the nftables state is applied, run apply again to finish"
        }
    }
}

/// Makes a host's kernel match a desired state, touching only what the
/// project owns: its two tables, its bridges and VXLAN devices, and the ports
/// and uplink the policy names.
public final class Dataplane {
    public static let ownedTables = [NFTTableID(.bridge, Naming.table), NFTTableID(.inet, Naming.table)]

    let kernel: any Kernel

    /// The project's tables as the kernel held them at a ruleset generation
    /// (read, or written by this dataplane's last batch). While the kernel
    /// is still at that generation nothing has committed since, so a plan
    /// needn't dump the tables again: for a daemon that applies change
    /// after change, the dump is most of a small change's time.
    private var known: (generation: UInt32, tables: [NFTTable])?

    public init(kernel: any Kernel) { self.kernel = kernel }

    /// The counters of the project's rules (`sgctl stats`, sgd's /metrics).
    public func counters() throws -> [NFTRuleCounter] {
        try kernel.readCounters(Self.ownedTables)
    }

    /// The kernel's state of what the project owns, in the same shape the
    /// compiler produces. `uplinks` are read as trunks rather than ports.
    public func observe(uplinks: Set<String>) throws -> HostState {
        let tables = try kernel.readTables(Self.ownedTables)
        let links = try kernel.readLinks(trunkDevices: uplinks)
        return HostState(links: links, tables: tables)
    }

    /// The project's tables now, and the generation they are of (nil when
    /// another commit came during the dump). The known tables are taken
    /// instead of a dump while the kernel's generation is theirs, unless
    /// `fresh`.
    private func currentTables(fresh: Bool) throws -> (tables: [NFTTable], generation: UInt32?) {
        let before = try kernel.rulesetGeneration()
        if !fresh, let known, known.generation == before { return (known.tables, before) }
        let tables = try kernel.readTables(Self.ownedTables)
        let after = try kernel.rulesetGeneration()
        known = before == after ? (after, tables) : nil
        return (tables, before == after ? after : nil)
    }

    /// What apply would change. Fails, changing nothing, when the kernel
    /// can't carry the state. `freshRead` dumps the tables even when the
    /// kernel's ruleset generation says they are as last read or written
    /// (the daemon's periodic drift check trusts nothing remembered).
    public func plan(_ desired: HostState, freshRead: Bool = false) throws -> Plan {
        var missing = try kernel.capabilities().missing(for: desired)
        if !missing.isEmpty {
            // Features found earlier are kept; missing ones may have come
            // since (a module loaded by the operator): look again before failing.
            missing = try kernel.capabilities(probeAgain: true).missing(for: desired)
        }
        guard missing.isEmpty else { throw DataplaneError.missingKernelFeatures(missing) }

        var reachable = desired
        var pending: [String] = []
        var pendingPorts: [String] = []
        for device in desired.links.ports.keys.sorted() where try !kernel.deviceExists(device) {
            reachable.links.ports[device] = nil
            pendingPorts.append(device)
            pending.append("port device \(device) does not exist yet")
        }
        for uplink in desired.links.trunks.keys.sorted() where try !kernel.deviceExists(uplink) {
            reachable.links.trunks[uplink] = nil
            pending.append("uplink \(uplink) does not exist: VLAN networks stay local to this host")
        }
        for (name, device) in desired.links.vxlans.sorted(by: { $0.key < $1.key }) {
            if let underlay = device.underlay, try !kernel.deviceExists(underlay) {
                reachable.links.vxlans[name] = nil
                reachable.links.floods = reachable.links.floods.filter { $0.device != name }
                pending.append("\(name): underlay \(underlay) does not exist: VNI \(device.vni) stays local to this host")
            }
        }
        let (tables, generation) = try currentTables(fresh: freshRead)
        let observed = HostState(links: try kernel.readLinks(trunkDevices: Set(desired.links.trunks.keys)), tables: tables)
        let delta = diff(observed, reachable)
        return Plan(
            delta: delta, pending: pending, pendingPorts: pendingPorts, conntrackZones: Self.revokedZones(delta, observed: observed, desired: desired),
            observedPorts: observed.links.ports, observedTables: tables, observedGeneration: generation,
            plannedTables: Self.ownedTables.compactMap { reachable.tables[$0] })
    }

    /// The zones whose connections must be re-checked: when a change takes
    /// away something a connection may rely on, connections it allowed must
    /// stop, established ones included. That is a member leaving a remote
    /// group's set, a port moving to another profile, or a chain losing a
    /// rule. Port-security changes need nothing (they are checked on every
    /// packet), and additions revoke nothing, so the common changes (a VM
    /// boots, a member joins, a rule is added) flush nothing.
    static func revokedZones(_ delta: HostDelta, observed: HostState, desired: HostState) -> [UInt16] {
        let inet = NFTTableID(.inet, Naming.table)
        var readded: [String: Set<[NFTAtom]>] = [:]
        for case .addElements(inet, let set, let elements) in delta.nft {
            readded[set, default: []].formUnion(elements.map(\.key))
        }
        let revokes = delta.nft.contains { op in
            switch op {
            case .deleteElements(inet, let set, let elements):
                if set.hasPrefix("remote/") {
                    // Ranges are merged, so a new member next to an old one
                    // replaces a range by a wider one: only lost addresses revoke.
                    let after = (desired.tables[inet]?.sets[set]?.elements ?? []).compactMap(Self.range)
                    return elements.compactMap(Self.range).contains { old in
                        !after.contains { $0.lower <= old.lower && old.upper <= $0.upper }
                    }
                }
                if set == "egress_ports" || set == "ingress_ports" {
                    return elements.contains { readded[set]?.contains($0.key) == true }
                }
                return false
            case .replaceRules(inet, let chain, let rules):
                let before = observed.tables[inet]?.chains[chain]?.rules ?? []
                return !Set(before).isSubset(of: Set(rules))
            default:
                return false
            }
        }
        guard revokes, let zones = desired.tables[inet]?.sets["zones"] else { return [] }
        return zones.elements.compactMap { element in
            if case .zone(let z)? = element.data { z } else { nil }
        }.sorted()
    }

    /// Forgets the tracked connections of a port whose device is gone (its
    /// VM destroyed, or moved away): entries of the port's zone from or to
    /// its addresses and address pairs. Its filtering stays while the policy
    /// declares the port, so a device that comes back is filtered before it
    /// is attached. Returns the addresses and how many entries went.
    public func forgetConnections(ofDevice device: String, in desired: HostState) throws -> (addresses: [IPRange], deleted: Int) {
        let bridge = NFTTableID(.bridge, Naming.table), inet = NFTTableID(.inet, Naming.table)
        func elements(_ table: NFTTableID, _ set: String) -> Set<NFTElement> { desired.tables[table]?.sets[set]?.elements ?? [] }
        guard case .mark(let mark)? = elements(bridge, "port_marks").first(where: { $0.key.first == .ifname(device) })?.data,
            case .zone(let zone)? = elements(inet, "zones").first(where: { $0.key == [.integer(mark & PacketMark.zoneMask)] })?.data
        else { return ([], 0) }
        var addresses: [IPRange] = []
        for set in ["allowed_ipv4", "allowed_ipv6", "allowed_ipv4_prefixes", "allowed_ipv6_prefixes"] {
            for element in elements(bridge, set) where element.key.first == .ifname(device) {
                if case .address(let range)? = element.key.last { addresses.append(range) }
            }
        }
        return (addresses, try kernel.deleteConnections(zone: zone, involving: addresses))
    }

    private static func range(_ element: NFTElement) -> IPRange? {
        if case .address(let range)? = element.key.first { range } else { nil }
    }

    /// Applies a plan. Order matters for safety: ports leaving a bridge leave
    /// before their filtering goes; the nftables batch (atomic) comes next;
    /// bridges and tunnels follow; ports join bridges last, when their
    /// filtering is already in place, so no VM is ever bridged unfiltered.
    @discardableResult
    public func apply(_ plan: Plan) throws -> Plan {
        var detached: [String] = []
        for case .detachPort(let device) in plan.delta.links {
            try runLink(.detachPort(device: device), completed: detached.count)
            detached.append(device)
        }
        if !plan.delta.nft.isEmpty {
            do {
                let generation = try kernel.applyTables(plan.delta.nft, over: plan.observedTables)
                // The kernel holds the planned tables if this batch was the
                // only commit since they were read.
                known = plan.observedGeneration.map { $0 &+ 1 } == generation ? (generation, plan.plannedTables) : nil
            } catch {
                known = nil
                // Put back what left, so a failed apply changes nothing.
                for device in detached {
                    if let port = plan.observedPorts[device] { try? kernel.applyLink(.attachPort(device: device, port)) }
                }
                throw DataplaneError.batchFailed("\(error)")
            }
            if !plan.conntrackZones.isEmpty {
                do {
                    try kernel.deleteConnections(zones: Set(plan.conntrackZones))
                } catch {
                    throw DataplaneError.linkFailed(operation: "delete conntrack entries of zones \(plan.conntrackZones)", error: "\(error)", completed: detached.count)
                }
            }
        }
        var completed = detached.count
        let middle = plan.delta.links.filter {
            switch $0 {
            case .detachPort, .attachPort: false
            default: true
            }
        }
        for op in middle {
            try runLink(op, completed: completed)
            completed += 1
        }
        for case .attachPort(let device, let port) in plan.delta.links {
            try runLink(.attachPort(device: device, port), completed: completed)
            completed += 1
        }
        return plan
    }

    private func runLink(_ op: LinkOperation, completed: Int) throws {
        do {
            try kernel.applyLink(op)
        } catch {
            throw DataplaneError.linkFailed(operation: "\(op)", error: "\(error)", completed: completed)
        }
    }
}
