import PolicyModel

/// The operations that turn `observed` into `desired`, fewest first: set
/// elements rather than sets, one chain's rules rather than the table.
/// Operations are ordered so that a batch never refers to something not yet
/// created or already deleted (see `NFTOperation`).
public func diff(_ observed: HostState, _ desired: HostState) -> HostDelta {
    HostDelta(links: diffLinks(observed.links, desired.links), nft: diffTables(observed.tables, desired.tables))
}

// MARK: - nftables

func diffTables(_ old: [NFTTableID: NFTTable], _ new: [NFTTableID: NFTTable]) -> [NFTOperation] {
    var recreate: [NFTOperation] = []
    var creates: [NFTOperation] = []
    var addSets: [NFTOperation] = []
    var addChains: [NFTOperation] = []
    var elements: [NFTOperation] = []
    var rules: [NFTOperation] = []
    var deleteChains: [NFTOperation] = []
    var deleteSets: [NFTOperation] = []
    var deleteTables: [NFTOperation] = []

    func create(_ table: NFTTable) {
        creates.append(.addTable(table.id))
        for set in table.sets.values.sorted(by: { $0.name < $1.name }) { addSets.append(.addSet(table.id, set)) }
        for chain in table.chains.values.sorted(by: { $0.name < $1.name }) { addChains.append(.addChain(table.id, chain)) }
    }

    for id in Set(old.keys).union(new.keys).sorted() {
        switch (old[id], new[id]) {
        case (nil, let b?):
            create(b)
        case (_?, nil):
            deleteTables.append(.deleteTable(id))
        case (let a?, let b?) where !shapesAgree(a, b):
            // A set changed its type or a base chain its hook: rebuild the
            // table in the same batch rather than patch what can't be patched.
            recreate.append(.deleteTable(id))
            create(b)
        case (let a?, let b?):
            // Only the names that differ are sorted: a host has hundreds of
            // chains and sets, a change touches a few.
            for name in b.sets.keys.filter({ a.sets[$0] == nil }).sorted() { addSets.append(.addSet(id, b.sets[name]!)) }
            for name in a.sets.keys.filter({ b.sets[$0] == nil }).sorted() { deleteSets.append(.deleteSet(id, name: name)) }
            // (Sets sharing storage, as a group's address set does between
            // compilations, compare in constant time.)
            let changedSets = b.sets.compactMap { name, t in a.sets[name].map { $0.elements != t.elements } == true ? name : nil }
            for name in changedSets.sorted() {
                let (s, t) = (a.sets[name]!, b.sets[name]!)
                let removed = s.elements.subtracting(t.elements)
                let added = t.elements.subtracting(s.elements)
                if !removed.isEmpty { elements.append(.deleteElements(id, set: name, removed.sorted())) }
                if !added.isEmpty { elements.append(.addElements(id, set: name, added.sorted())) }
            }
            for name in b.chains.keys.filter({ a.chains[$0] == nil }).sorted() { addChains.append(.addChain(id, b.chains[name]!)) }
            for name in a.chains.keys.filter({ b.chains[$0] == nil }).sorted() { deleteChains.append(.deleteChain(id, name: name)) }
            let changedChains = b.chains.compactMap { name, d in a.chains[name].map { $0.rules != d.rules } == true ? name : nil }
            for name in changedChains.sorted() { rules.append(.replaceRules(id, chain: name, b.chains[name]!.rules)) }
        default:
            break
        }
    }
    return recreate + creates + addSets + addChains + elements + rules + deleteChains + deleteSets + deleteTables
}

/// Whether the parts that can't be changed in place agree: the definitions
/// of sets present in both, and hooks and comments of chains present in both.
private func shapesAgree(_ a: NFTTable, _ b: NFTTable) -> Bool {
    for (name, s) in a.sets { if let t = b.sets[name], t.definition != s.definition { return false } }
    for (name, c) in a.chains {
        if let d = b.chains[name], c.base != d.base || c.comment != d.comment { return false }
    }
    return true
}

// MARK: - links

func diffLinks(_ a: LinkState, _ b: LinkState) -> [LinkOperation] {
    var ops: [LinkOperation] = []
    // Bridges whose kind changed are deleted and created again; everything on
    // them is detached first and attached again after.
    let rebuiltBridges = Set(a.bridges.compactMap { name, bridge in b.bridges[name].map { $0 != bridge } == true ? name : nil })
    let rebuiltVXLANs = Set(
        a.vxlans.compactMap { name, dev in
            (b.vxlans[name].map { $0 != dev } == true || rebuiltBridges.contains(dev.bridge)) ? name : nil
        })

    func stays<T: Equatable>(_ old: T?, _ new: T?, bridge: String?) -> Bool {
        old != nil && old == new && !(bridge.map(rebuiltBridges.contains) ?? false)
    }

    // Tear down, innermost first. A port moving to another bridge leaves the
    // old one first, which may be deleted below.
    for (device, port) in a.ports.sorted(by: { $0.key < $1.key })
    where b.ports[device]?.bridge != port.bridge || rebuiltBridges.contains(port.bridge) {
        ops.append(.detachPort(device: device))
    }
    for (device, trunk) in a.trunks.sorted(by: { $0.key < $1.key }) {
        if let new = b.trunks[device], new.bridge == trunk.bridge, !rebuiltBridges.contains(trunk.bridge) {
            let gone = trunk.vlans.subtracting(new.vlans)
            if !gone.isEmpty { ops.append(.deleteTrunkVLANs(device: device, gone.sorted())) }
        } else {
            ops.append(.detachTrunk(device: device))
        }
    }
    for entry in a.floods.subtracting(b.floods).sorted() where !rebuiltVXLANs.contains(entry.device) {
        ops.append(.deleteFlood(entry))
    }
    for name in a.vxlans.keys.sorted() where b.vxlans[name] == nil || rebuiltVXLANs.contains(name) {
        ops.append(.deleteVXLAN(name))
    }
    for name in a.bridges.keys.sorted() where b.bridges[name] == nil || rebuiltBridges.contains(name) {
        ops.append(.deleteBridge(name))
    }

    // Build up, outermost first.
    for (name, bridge) in b.bridges.sorted(by: { $0.key < $1.key }) where !stays(a.bridges[name], bridge, bridge: name) {
        ops.append(.addBridge(bridge))
    }
    for (name, dev) in b.vxlans.sorted(by: { $0.key < $1.key }) where a.vxlans[name] == nil || rebuiltVXLANs.contains(name) {
        ops.append(.addVXLAN(dev))
    }
    for entry in b.floods.sorted() where !a.floods.contains(entry) || rebuiltVXLANs.contains(entry.device) {
        ops.append(.addFlood(entry))
    }
    for (device, trunk) in b.trunks.sorted(by: { $0.key < $1.key }) {
        if let old = a.trunks[device], old.bridge == trunk.bridge, !rebuiltBridges.contains(trunk.bridge) {
            let added = trunk.vlans.subtracting(old.vlans)
            if !added.isEmpty { ops.append(.addTrunkVLANs(device: device, added.sorted())) }
        } else {
            ops.append(.attachTrunk(device: device, bridge: trunk.bridge))
            if !trunk.vlans.isEmpty { ops.append(.addTrunkVLANs(device: device, trunk.vlans.sorted())) }
        }
    }
    for (device, port) in b.ports.sorted(by: { $0.key < $1.key }) where !stays(a.ports[device], port, bridge: port.bridge) {
        ops.append(.attachPort(device: device, port))
    }
    return ops
}
