import HostModel
import PolicyModel

/// The changes about one port, group, profile, or the host itself.
public struct PlanSection: Hashable, Sendable {
    public var subject: PlanSubject
    public var items: [PlanItem]
    /// The port's device doesn't exist yet: its filtering is installed, a
    /// later apply attaches it.
    public var pending = false

    public var counts: TallyCounts { TallyCounts(items) }
}

/// A host's plan grouped for people: a section per port, group, profile,
/// and one for the host's own objects, in that order. Pure: built from the
/// delta, the policy and the states, no kernel.
public struct PlanView: Hashable, Sendable {
    public var host: String
    public var sections: [PlanSection]
    /// Things of the desired state that can't be made yet (`Plan.pending`).
    public var pending: [String]

    /// - Parameters:
    ///   - desired: what the plan leads to: names the slots of ports being added.
    ///   - observed: the kernel's state the plan starts from, when known: shows
    ///     which rules of a replaced chain change, and names the slots and
    ///     MACs of ports being removed.
    public init(
        host: String, delta: HostDelta, policy: Policy, desired: HostState, observed: HostState? = nil,
        pending: [String] = [], pendingDevices: some Sequence<String> = [String]()
    ) {
        self.host = host
        self.pending = pending
        let builder = ItemBuilder(
            resolver: SubjectResolver(policy: policy, host: host, states: [observed, desired].compactMap { $0 }),
            desired: desired, observed: observed)
        var items: [PlanSubject: [PlanItem]] = [:]
        for op in delta.nft {
            for (subject, item) in builder.items(op) { items[subject, default: []].append(item) }
        }
        for op in delta.links {
            for (subject, item) in builder.items(op) { items[subject, default: []].append(item) }
        }
        let pendingDevices = Set(pendingDevices)
        sections = items.keys.sorted().map { subject in
            var section = PlanSection(subject: subject, items: items[subject]!)
            if case .port(_, let device) = subject { section.pending = pendingDevices.contains(device) }
            return section
        }
    }

    public var isEmpty: Bool { sections.isEmpty }

    public var counts: TallyCounts {
        var counts = TallyCounts()
        for section in sections { counts.formUnion(section.counts) }
        return counts
    }

    /// "2 ports, 1 group and host-wide objects changed — 14 changes (12 elements added, 1 chain replaced, 1 port attached)".
    public var summary: String {
        guard !isEmpty else { return "host \(host): no changes" }
        var subjects: [String] = []
        let byKind = Dictionary(grouping: sections, by: \.subject.kind)
        for kind in PlanSubject.Kind.allCases {
            guard let n = byKind[kind]?.count else { continue }
            subjects.append(kind == .host ? kind.noun.plural : kind.noun.counted(n))
        }
        let counts = counts
        let what = subjects.count == 1 ? subjects[0] : subjects.dropLast().joined(separator: ", ") + " and " + subjects.last!
        return "host \(host): \(what) changed — \(Noun("change").counted(counts.total)) (\(counts.description))"
    }
}

/// Turns operations into items, each with the subject it is about.
struct ItemBuilder {
    let resolver: SubjectResolver
    let desired: HostState
    let observed: HostState?

    func items(_ op: NFTOperation) -> [(PlanSubject, PlanItem)] {
        switch op {
        case .addTable(let id):
            return [(.host, PlanItem(.added, "table", id.description, tally: .tableAdded))]
        case .deleteTable(let id):
            return [(.host, PlanItem(.removed, "table", id.description, tally: .tableDeleted))]
        case .addSet(let id, let set):
            // The set goes with what it is for; its elements each with the
            // port or group they belong to, as added elements do.
            let created = PlanItem(
                .added, set.isMap ? "map" : "set", place(id, set.name), Noun("element").counted(set.elements.count), tally: .setAdded)
            return [(resolver.subject(table: id, set: set.name), created)]
                + set.elements.sorted().map { element(.added, id, set.name, $0) }
        case .deleteSet(let id, let name):
            let count = observed?.tables[id]?.sets[name].map { Noun("element").counted($0.elements.count) } ?? ""
            return [(resolver.subject(table: id, set: name), PlanItem(.removed, "set", place(id, name), count, tally: .setDeleted))]
        case .addElements(let id, let set, let elements):
            return elements.map { element(.added, id, set, $0) }
        case .deleteElements(let id, let set, let elements):
            return elements.map { element(.removed, id, set, $0) }
        case .addChain(let id, let chain):
            let item = PlanItem(
                .added, "chain", place(id, chain.name), Noun("rule").counted(chain.rules.count),
                details: chain.rules.map { .init(.added, NFTRenderer.rule($0)) }, tally: .chainAdded)
            return [(resolver.subject(table: id, chain: chain.name), item)]
        case .deleteChain(let id, let name):
            let count = observed?.tables[id]?.chains[name].map { Noun("rule").counted($0.rules.count) } ?? ""
            return [(resolver.subject(table: id, chain: name), PlanItem(.removed, "chain", place(id, name), count, tally: .chainDeleted))]
        case .replaceRules(let id, let chain, let rules):
            return [(resolver.subject(table: id, chain: chain), replacement(id, chain, rules))]
        }
    }

    /// A chain whose rules are replaced, with the rules that differ when the
    /// old ones are known, else all its new rules.
    func replacement(_ id: NFTTableID, _ chain: String, _ rules: [NFTRule]) -> PlanItem {
        let new = rules.map(NFTRenderer.rule)
        let count = Noun("rule").counted(rules.count)
        guard let old = observed?.tables[id]?.chains[chain]?.rules.map(NFTRenderer.rule) else {
            return PlanItem(.replaced, "chain", place(id, chain), count, details: new.map { .init(nil, $0) }, tally: .chainReplaced)
        }
        let value = old.count == new.count ? count : "\(count) (was \(old.count))"
        return PlanItem(.replaced, "chain", place(id, chain), value, details: RuleDiff.changes(from: old, to: new) ?? [], tally: .chainReplaced)
    }

    func element(_ change: PlanItem.Change, _ id: NFTTableID, _ set: String, _ element: NFTElement) -> (PlanSubject, PlanItem) {
        let subject = resolver.subject(table: id, set: set, element: element)
        let keyTypes = (desired.tables[id]?.sets[set] ?? observed?.tables[id]?.sets[set])?.definition.key ?? []
        var note: String?
        if case .group(let group) = subject {
            let owners = resolver.owners(ofMember: element, inGroup: group)
            // A merged range of a whole subnet's ports would name hundreds.
            let named = owners.prefix(4).joined(separator: ", ") + (owners.count > 4 ? " and \(owners.count - 4) more" : "")
            if !owners.isEmpty { note = (owners.count == 1 ? "port " : "ports ") + named }
        }
        let item = PlanItem(
            change, "element", place(id, set), NFTRenderer.element(element, keyTypes: keyTypes), note: note,
            tally: change == .added ? .elementAdded : .elementDeleted)
        return (subject, item)
    }

    func items(_ op: LinkOperation) -> [(PlanSubject, PlanItem)] {
        let subject = resolver.subject(op)
        return linkItems(op).map { (subject, $0) }
    }

    func linkItems(_ op: LinkOperation) -> [PlanItem] {
        switch op {
        case .addBridge(let b):
            return [PlanItem(.added, "bridge", b.name, b.vlanFiltering ? "VLAN-aware" : "", tally: .bridgeAdded)]
        case .deleteBridge(let name):
            return [PlanItem(.removed, "bridge", name, tally: .bridgeDeleted)]
        case .addVXLAN(let d):
            let value = "vni \(d.vni)\(d.local.map { " local \($0)" } ?? "")\(d.underlay.map { " dev \($0)" } ?? "") on \(d.bridge)"
            return [PlanItem(.added, "vxlan", d.name, value, tally: .vxlanAdded)]
        case .deleteVXLAN(let name):
            return [PlanItem(.removed, "vxlan", name, tally: .vxlanDeleted)]
        case .addFlood(let e):
            return [PlanItem(.added, "flood", e.device, "to \(e.remote)", tally: .floodAdded)]
        case .deleteFlood(let e):
            return [PlanItem(.removed, "flood", e.device, "to \(e.remote)", tally: .floodDeleted)]
        case .attachPort(let device, let port):
            // A device already on a bridge is moved (another bridge or VLAN).
            if let old = observed?.links.ports[device] {
                return [PlanItem(.replaced, "port", device, "on \(Self.describe(port)) (was on \(Self.describe(old)))", tally: .portMoved)]
            }
            return [PlanItem(.added, "port", device, "on \(Self.describe(port))", tally: .portAttached)]
        case .detachPort(let device):
            return [PlanItem(.removed, "port", device, observed?.links.ports[device].map { "from \($0.bridge)" } ?? "", tally: .portDetached)]
        case .attachTrunk(let device, let bridge):
            return [PlanItem(.added, "trunk", device, "on \(bridge)", tally: .trunkAttached)]
        case .detachTrunk(let device):
            return [PlanItem(.removed, "trunk", device, tally: .trunkDetached)]
        // A trunk's VLANs one by one, so that they count one by one.
        case .addTrunkVLANs(let device, let vlans):
            return vlans.map { PlanItem(.added, "trunk", device, "VLAN \($0)", tally: .trunkVLANAdded) }
        case .deleteTrunkVLANs(let device, let vlans):
            return vlans.map { PlanItem(.removed, "trunk", device, "VLAN \($0)", tally: .trunkVLANDeleted) }
        }
    }

    func place(_ id: NFTTableID, _ name: String) -> String { "\(id.family.rawValue) \(name)" }

    static func describe(_ port: BridgePort) -> String { port.bridge + (port.pvid.map { " pvid \($0)" } ?? "") }
}
