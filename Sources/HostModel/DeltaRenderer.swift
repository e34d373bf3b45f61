/// A delta as a person reads it in `sgctl plan`: one line per change,
/// `+` added, `-` removed, `~` replaced in place.
public enum DeltaRenderer {
    public static func lines(_ delta: HostDelta) -> [String] {
        delta.nft.flatMap(nftLines) + delta.links.map(linkLine)
    }

    /// "3 elements added, 1 chain replaced, 2 ports attached".
    public static func summary(_ delta: HostDelta) -> String {
        var counts: [(String, Int)] = []
        func add(_ label: String, _ n: Int) {
            if let i = counts.firstIndex(where: { $0.0 == label }) { counts[i].1 += n } else { counts.append((label, n)) }
        }
        for op in delta.nft {
            switch op {
            case .addTable: add("tables added", 1)
            case .deleteTable: add("tables deleted", 1)
            case .addSet: add("sets added", 1)
            case .deleteSet: add("sets deleted", 1)
            case .addElements(_, _, let e): add("elements added", e.count)
            case .deleteElements(_, _, let e): add("elements deleted", e.count)
            case .addChain: add("chains added", 1)
            case .deleteChain: add("chains deleted", 1)
            case .replaceRules: add("chains replaced", 1)
            }
        }
        for op in delta.links {
            switch op {
            case .addBridge: add("bridges added", 1)
            case .deleteBridge: add("bridges deleted", 1)
            case .addVXLAN: add("VXLAN devices added", 1)
            case .deleteVXLAN: add("VXLAN devices deleted", 1)
            case .addFlood: add("flood entries added", 1)
            case .deleteFlood: add("flood entries deleted", 1)
            case .attachPort: add("ports attached", 1)
            case .detachPort: add("ports detached", 1)
            case .attachTrunk, .addTrunkVLANs: add("trunk changes", 1)
            case .detachTrunk, .deleteTrunkVLANs: add("trunk changes", 1)
            }
        }
        return counts.isEmpty ? "no changes" : counts.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
    }

    static func nftLines(_ op: NFTOperation) -> [String] {
        switch op {
        case .addTable(let id): ["+ table \(id)"]
        case .deleteTable(let id): ["- table \(id)"]
        case .addSet(let id, let set):
            ["+ \(set.isMap ? "map" : "set") \(id) \(set.name) (\(set.elements.count) elements)"]
        case .deleteSet(let id, let name): ["- set \(id) \(name)"]
        case .addElements(let id, let set, let elements):
            elements.map { "+ element \(id) \(set) { \(NFTRenderer.element($0)) }" }
        case .deleteElements(let id, let set, let elements):
            elements.map { "- element \(id) \(set) { \(NFTRenderer.element($0)) }" }
        case .addChain(let id, let chain): ["+ chain \(id) \(chain.name) (\(chain.rules.count) rules)"]
        case .deleteChain(let id, let name): ["- chain \(id) \(name)"]
        case .replaceRules(let id, let chain, let rules):
            ["~ chain \(id) \(chain): rules replaced (\(rules.count) rules)"] + rules.map { "    \(NFTRenderer.rule($0))" }
        }
    }

    static func linkLine(_ op: LinkOperation) -> String {
        switch op {
        case .addBridge(let b): "+ bridge \(b.name)\(b.vlanFiltering ? " (VLAN-aware)" : "")"
        case .deleteBridge(let name): "- bridge \(name)"
        case .addVXLAN(let d):
            "+ vxlan \(d.name) vni \(d.vni)\(d.local.map { " local \($0)" } ?? "")\(d.underlay.map { " dev \($0)" } ?? "") on \(d.bridge)"
        case .deleteVXLAN(let name): "- vxlan \(name)"
        case .addFlood(let e): "+ flood \(e.device) -> \(e.remote)"
        case .deleteFlood(let e): "- flood \(e.device) -> \(e.remote)"
        case .attachPort(let device, let port): "+ port \(device) on \(port.bridge)\(port.pvid.map { " pvid \($0)" } ?? "")"
        case .detachPort(let device): "- port \(device)"
        case .attachTrunk(let device, let bridge): "+ trunk \(device) on \(bridge)"
        case .detachTrunk(let device): "- trunk \(device)"
        case .addTrunkVLANs(let device, let vlans): "+ trunk \(device) vlans \(vlans.map(String.init).joined(separator: ","))"
        case .deleteTrunkVLANs(let device, let vlans): "- trunk \(device) vlans \(vlans.map(String.init).joined(separator: ","))"
        }
    }
}
