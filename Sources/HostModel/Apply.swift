import PolicyModel

/// A delta that does not fit the state it is applied to (deleting what is
/// not there, adding what already is): the in-memory equivalent of the
/// kernel's ENOENT and EEXIST.
public struct DeltaMismatch: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension HostState {
    /// The state after `delta`, with the kernel's rules for what must exist
    /// first. This is the in-memory dataplane: tests use it to check that
    /// `applying(diff(a, b))` to `a` gives `b`.
    public func applying(_ delta: HostDelta) throws(DeltaMismatch) -> HostState {
        var state = self
        for op in delta.links { try state.links.apply(op) }
        for op in delta.nft { try state.apply(op) }
        return state
    }

    private mutating func apply(_ op: NFTOperation) throws(DeltaMismatch) {
        func fail(_ what: String) -> DeltaMismatch { DeltaMismatch(message: "\(what) (\(op))") }
        switch op {
        case .addTable(let id):
            guard tables[id] == nil else { throw fail("table \(id) exists") }
            tables[id] = NFTTable(id: id)
        case .deleteTable(let id):
            guard tables.removeValue(forKey: id) != nil else { throw fail("no table \(id)") }
        case .addSet(let id, let set):
            guard tables[id] != nil, tables[id]!.sets[set.name] == nil else { throw fail("can't add set") }
            tables[id]!.sets[set.name] = set
        case .deleteSet(let id, let name):
            guard tables[id]?.sets.removeValue(forKey: name) != nil else { throw fail("no set") }
        case .addElements(let id, let name, let elements):
            guard var set = tables[id]?.sets[name] else { throw fail("no set") }
            for e in elements {
                if set.elements.contains(where: { $0.key == e.key }) { throw fail("element exists") }
                set.elements.insert(e)
            }
            tables[id]!.sets[name] = set
        case .deleteElements(let id, let name, let elements):
            guard var set = tables[id]?.sets[name] else { throw fail("no set") }
            for e in elements {
                guard set.elements.remove(e) != nil else { throw fail("no element") }
            }
            tables[id]!.sets[name] = set
        case .addChain(let id, let chain):
            guard tables[id] != nil, tables[id]!.chains[chain.name] == nil else { throw fail("can't add chain") }
            tables[id]!.chains[chain.name] = chain
        case .deleteChain(let id, let name):
            guard tables[id]?.chains.removeValue(forKey: name) != nil else { throw fail("no chain") }
        case .replaceRules(let id, let name, let rules):
            guard tables[id]?.chains[name] != nil else { throw fail("no chain") }
            tables[id]!.chains[name]!.rules = rules
        }
    }
}

extension LinkState {
    fileprivate mutating func apply(_ op: LinkOperation) throws(DeltaMismatch) {
        func fail(_ what: String) -> DeltaMismatch { DeltaMismatch(message: "\(what) (\(op))") }
        switch op {
        case .addBridge(let bridge):
            guard bridges[bridge.name] == nil else { throw fail("bridge exists") }
            bridges[bridge.name] = bridge
        case .deleteBridge(let name):
            guard bridges.removeValue(forKey: name) != nil else { throw fail("no bridge") }
            guard !ports.values.contains(where: { $0.bridge == name }), !vxlans.values.contains(where: { $0.bridge == name }),
                !trunks.values.contains(where: { $0.bridge == name })
            else { throw fail("bridge still has ports") }
        case .addVXLAN(let dev):
            guard vxlans[dev.name] == nil, bridges[dev.bridge] != nil else { throw fail("can't add vxlan") }
            vxlans[dev.name] = dev
        case .deleteVXLAN(let name):
            guard vxlans.removeValue(forKey: name) != nil else { throw fail("no vxlan") }
            // The kernel drops a device's FDB entries with it.
            floods = floods.filter { $0.device != name }
        case .addFlood(let entry):
            guard vxlans[entry.device] != nil, floods.insert(entry).inserted else { throw fail("can't add flood entry") }
        case .deleteFlood(let entry):
            guard floods.remove(entry) != nil else { throw fail("no flood entry") }
        case .attachPort(let device, let port):
            guard bridges[port.bridge] != nil else { throw fail("no bridge") }
            ports[device] = port
        case .detachPort(let device):
            guard ports.removeValue(forKey: device) != nil else { throw fail("port not attached") }
        case .attachTrunk(let device, let bridge):
            guard trunks[device] == nil, bridges[bridge] != nil else { throw fail("can't attach trunk") }
            trunks[device] = Trunk(bridge: bridge, vlans: [])
        case .detachTrunk(let device):
            guard trunks.removeValue(forKey: device) != nil else { throw fail("no trunk") }
        case .addTrunkVLANs(let device, let vlans):
            guard trunks[device] != nil else { throw fail("no trunk") }
            for v in vlans { guard trunks[device]!.vlans.insert(v).inserted else { throw fail("vlan on trunk") } }
        case .deleteTrunkVLANs(let device, let vlans):
            guard trunks[device] != nil else { throw fail("no trunk") }
            for v in vlans { guard trunks[device]!.vlans.remove(v) != nil else { throw fail("vlan not on trunk") } }
        }
    }
}
