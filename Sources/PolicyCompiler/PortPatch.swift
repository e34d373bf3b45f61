import HostModel
import PolicyModel

/// One port's change on its own host, made on the host's compiled state
/// instead of compiling the host again: the port's set elements swapped,
/// its own chains, and the profile chains, group chains and address sets
/// that come or go with its groups. Only for changes that leave every other port's slot and
/// every network's zone on the host as they were (the port stays on its
/// host, network and device, or arrives or leaves on a network the host
/// keeps); anything else is compiled again. What comes out is what
/// compiling the host would give (the controller's property tests check it).
public struct PortPatch: Sendable {
    public let host: String
    let old: Port?
    let zones: [String: UInt16]
    let slots: [String: Int]
    let shape: HostBuilder.Shape
    let oldElements: [NFTTableID: [String: Set<NFTElement>]]

    /// Taken before the change, from the index as it still is. Nil when the
    /// change is not one a patch can make.
    public init?(index: PolicyIndex, replacing old: Port?, with new: Port?) {
        switch (old, new) {
        case (let old?, let new?):
            guard old.host == new.host, old.network == new.network, old.device == new.device,
                old.portSecurity == new.portSecurity
            else { return nil }
        case (nil, let new?):
            guard index.portCount(onNetwork: new.network, host: new.host) >= 1 else { return nil }
        case (let old?, nil):
            guard index.portCount(onNetwork: old.network, host: old.host) >= 2 else { return nil }
        case (nil, nil):
            return nil
        }
        let hostName = (old ?? new)!.host
        guard let host = index.host(hostName), let builder = try? HostBuilder(index: index, host: host) else { return nil }
        self.host = hostName
        self.old = old
        zones = builder.zones
        slots = builder.slots
        shape = builder.shape()
        oldElements = old.map(builder.elements(of:)) ?? [:]
    }

    /// `state` (the host's state before the change) with the change made,
    /// from the index as it is now; nil when other ports' slots or the
    /// zones moved, and the host must be compiled again.
    public func apply(to state: HostState, index: PolicyIndex, new: Port?) -> HostState? {
        guard let host = index.host(host), let builder = try? HostBuilder(index: index, host: host),
            builder.zones == zones
        else { return nil }
        for (name, slot) in builder.slots where name != new?.name && slots[name] != slot { return nil }

        var state = state
        let newElements = new.map(builder.elements(of:)) ?? [:]
        for table in Set(oldElements.keys).union(newElements.keys) {
            let (before, after) = (oldElements[table] ?? [:], newElements[table] ?? [:])
            for set in Set(before.keys).union(after.keys) {
                let (a, b) = (before[set] ?? [], after[set] ?? [])
                guard a != b, state.tables[table]?.sets[set] != nil else { continue }
                state.tables[table]!.sets[set]!.elements.subtract(a.subtracting(b))
                state.tables[table]!.sets[set]!.elements.formUnion(b.subtracting(a))
            }
        }

        let inet = NFTTableID(.inet, Naming.table)
        if let old, old.portSecurity {
            for direction in Direction.allCases { state.tables[inet]!.chains[Naming.portChain(device: old.device, direction)] = nil }
        }
        if let new, new.portSecurity, builder.slots[new.name] != nil {
            for chain in builder.portChains(new) { state.tables[inet]!.chains[chain.name] = chain }
        }
        let shape = builder.shape()
        for (groups, stateful) in self.shape.profiles where shape.profiles[groups] != stateful {
            for direction in Direction.allCases { state.tables[inet]!.chains[Naming.profileChain(groups, direction)] = nil }
        }
        for (groups, stateful) in shape.profiles where self.shape.profiles[groups] != stateful {
            for direction in Direction.allCases {
                let chain = builder.profileChain(groups, direction, stateful: stateful)
                state.tables[inet]!.chains[chain.name] = chain
            }
        }
        for group in self.shape.memberGroups.subtracting(shape.memberGroups) {
            for direction in Direction.allCases { state.tables[inet]!.chains[Naming.groupChain(group, direction)] = nil }
        }
        for group in shape.memberGroups.subtracting(self.shape.memberGroups) {
            for direction in Direction.allCases {
                let chain = builder.groupChain(group, direction)
                state.tables[inet]!.chains[chain.name] = chain
            }
        }
        for group in self.shape.remoteGroups.subtracting(shape.remoteGroups) {
            for family in IPFamily.allCases { state.tables[inet]!.sets[Naming.remoteSet(group, family)] = nil }
        }
        for group in shape.remoteGroups.subtracting(self.shape.remoteGroups) {
            for family in IPFamily.allCases {
                let set = builder.remoteSet(group, family)
                state.tables[inet]!.sets[set.name] = set
            }
        }

        if let old, new == nil { state.links.ports[old.device] = nil }
        if let new, old == nil { state.links.ports[new.device] = builder.bridgePort(for: new) }
        return state
    }
}
