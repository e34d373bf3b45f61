import HostModel

/// A host's compiled state as etcd keys, one per kernel object, so that a
/// change writes only the objects it changes (an element added to a set is
/// one small key, not the host's whole state). Under the host's prefix:
///
///     meta                                  HostMeta: revision, label, complete
///     links                                 bridges, VXLAN devices, flood entries, trunks
///     ports/DEVICE                          where a VM device is attached
///     tables/FAMILY/TABLE                   the table exists
///     sets/FAMILY/TABLE/SET                 a set's definition (no elements)
///     elements/FAMILY/TABLE/SET/ELEMENT     one element, e.g. `tap-vm1 . 10.0.0.5`
///     chains/FAMILY/TABLE/CHAIN             a chain with its rules
///
/// Names are escaped (`/` → `%2F`, `%` → `%25`: chain and set names contain
/// slashes), so a key splits into its parts at `/`. Values are JSON with
/// sorted keys; every value names its object in full, and an element's key
/// text is only a readable identifier.
enum ObjectKey: Hashable {
    case meta
    case links
    case port(String)
    case table(NFTTableID)
    case set(NFTTableID, String)
    case element(NFTTableID, set: String, text: String)
    case chain(NFTTableID, String)

    var path: String {
        switch self {
        case .meta: "meta"
        case .links: "links"
        case .port(let device): "ports/" + Self.escape(device)
        case .table(let table): "tables/" + Self.path(table)
        case .set(let table, let name): "sets/" + Self.path(table) + "/" + Self.escape(name)
        case .element(let table, let set, let text): Self.elementsPath(table, set: set) + Self.escape(text)
        case .chain(let table, let name): "chains/" + Self.path(table) + "/" + Self.escape(name)
        }
    }

    static func element(_ table: NFTTableID, set: String, _ element: NFTElement) -> ObjectKey {
        .element(table, set: set, text: element.key.map(\.text).joined(separator: " . "))
    }

    /// Every element of one set: a prefix, for deleting a set whole.
    static func elementsPath(_ table: NFTTableID, set: String) -> String {
        "elements/" + path(table) + "/" + escape(set) + "/"
    }

    /// Every object of one table except the table key itself.
    static func tableContentsPaths(_ table: NFTTableID) -> [String] {
        ["sets/", "elements/", "chains/"].map { $0 + path(table) + "/" }
    }

    /// The key a path names, or nil for a path outside the layout.
    init?(path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map { Self.unescape(String($0)) }
        func table(_ i: Int) -> NFTTableID? {
            guard parts.count > i + 1, let family = NFTFamily(rawValue: parts[i]) else { return nil }
            return NFTTableID(family, parts[i + 1])
        }
        switch (parts.first, parts.count) {
        case ("meta", 1): self = .meta
        case ("links", 1): self = .links
        case ("ports", 2): self = .port(parts[1])
        case ("tables", 3): guard let t = table(1) else { return nil }; self = .table(t)
        case ("sets", 4): guard let t = table(1) else { return nil }; self = .set(t, parts[3])
        case ("elements", 5): guard let t = table(1) else { return nil }; self = .element(t, set: parts[3], text: parts[4])
        case ("chains", 4): guard let t = table(1) else { return nil }; self = .chain(t, parts[3])
        default: return nil
        }
    }

    private static func path(_ table: NFTTableID) -> String { table.family.rawValue + "/" + escape(table.name) }

    static func escape(_ name: String) -> String {
        name.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
    }

    static func unescape(_ part: String) -> String {
        part.replacingOccurrences(of: "%2F", with: "/").replacingOccurrences(of: "%25", with: "%")
    }
}

/// A host's `meta` key: the revision that last changed the host, and
/// whether all of that revision's objects are written. A publish too large
/// for one etcd transaction marks the host incomplete in its first
/// transaction and complete in its last, so a daemon never applies half of it.
struct HostMeta: Codable, Hashable {
    var revision: Int64
    var label: String
    var complete: Bool
}

/// The `links` key: the link state without the VM ports, which have keys of their own.
struct SharedLinks: Codable, Hashable {
    var bridges: [String: Bridge]
    var vxlans: [String: VXLANDevice]
    var floods: [FloodEntry]
    var trunks: [String: Trunk]

    init(_ links: LinkState) {
        bridges = links.bridges
        vxlans = links.vxlans
        floods = links.floods.sorted()
        trunks = links.trunks
    }

    func merged(ports: [String: BridgePort]) -> LinkState {
        LinkState(bridges: bridges, vxlans: vxlans, floods: Set(floods), ports: ports, trunks: trunks)
    }
}

/// A set's key holds its definition; its elements have keys of their own.
struct SetDefinition: Codable, Hashable {
    var name: String
    var definition: NFTSet.Definition
}

extension NFTAtom {
    /// How the atom reads in an element's key: as nft prints it.
    var text: String {
        switch self {
        case .integer(let value): String(value)
        case .ifname(let name): name
        case .mac(let mac): mac.description
        case .address(let range): range.description
        }
    }
}
