import HostModel

/// A host's state put together from its keys in etcd (see `ObjectKey`):
/// first from a range read, then kept current by the watch's puts and
/// deletes, one object at a time. The parts are kept as read, so building
/// the `HostState` costs one step per set and chain, never per element.
struct HostAssembler {
    private(set) var meta: HostMeta?
    private var shared: SharedLinks?
    private var ports: [String: BridgePort] = [:]
    private var tables: Set<NFTTableID> = []
    private var sets: [NFTTableID: [String: NFTSet.Definition]] = [:]
    private var elements: [NFTTableID: [String: Set<NFTElement>]] = [:]
    private var chains: [NFTTableID: [String: NFTChain]] = [:]
    /// An element's key text can't be parsed back (it is for people), so
    /// each element is remembered by its path, to remove it on a delete.
    private var elementsByPath: [String: NFTElement] = [:]
    /// Paths whose value couldn't be read, and why. The state isn't usable
    /// while there are any; a later put or delete of the path clears it.
    private var unreadable: [String: String] = [:]

    mutating func put(_ path: String, _ value: [UInt8]) {
        unreadable[path] = nil
        do {
            guard let key = ObjectKey(path: path) else { throw AssemblyError("not a key of the layout") }
            switch key {
            case .meta: meta = try RecordCoding.decode(HostMeta.self, value)
            case .links: shared = try RecordCoding.decode(SharedLinks.self, value)
            case .port(let device): ports[device] = try RecordCoding.decode(BridgePort.self, value)
            case .table(let id): tables.insert(id)
            case .set(let id, let name):
                let set = try RecordCoding.decode(SetDefinition.self, value)
                guard set.name == name else { throw AssemblyError("holds set \(set.name)") }
                sets[id, default: [:]][name] = set.definition
            case .chain(let id, let name):
                let chain = try RecordCoding.decode(NFTChain.self, value)
                guard chain.name == name else { throw AssemblyError("holds chain \(chain.name)") }
                chains[id, default: [:]][name] = chain
            case .element(let id, let set, _):
                let element = try RecordCoding.decode(NFTElement.self, value)
                guard ObjectKey.element(id, set: set, element).path == path else {
                    throw AssemblyError("holds another element (\(element.key.map(\.text).joined(separator: " . ")))")
                }
                // A map element whose data changed is put again under the same path.
                if let old = elementsByPath.updateValue(element, forKey: path) { elements[id]?[set]?.remove(old) }
                elements[id, default: [:]][set, default: []].insert(element)
            }
        } catch {
            unreadable[path] = "\(error)"
        }
    }

    mutating func delete(_ path: String) {
        unreadable[path] = nil
        guard let key = ObjectKey(path: path) else { return }
        switch key {
        case .meta: meta = nil
        case .links: shared = nil
        case .port(let device): ports[device] = nil
        case .table(let id): tables.remove(id)
        case .set(let id, let name): sets[id]?[name] = nil
        case .chain(let id, let name): chains[id]?[name] = nil
        case .element(let id, let set, _):
            if let element = elementsByPath.removeValue(forKey: path) { elements[id]?[set]?.remove(element) }
        }
    }

    /// The state the keys describe, or what is wrong with them: values that
    /// can't be read, or objects whose table or set has no key.
    func state() -> Result<HostState, AssemblyProblems> {
        var problems = unreadable.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        for id in Set(sets.keys).union(elements.keys).union(chains.keys).subtracting(tables).sorted()
        where !(sets[id] ?? [:]).isEmpty || !(chains[id] ?? [:]).isEmpty || (elements[id] ?? [:]).values.contains(where: { !$0.isEmpty }) {
            problems.append("objects of table \(id) without the table's key")
        }
        var built: [NFTTable] = []
        for id in tables.sorted() {
            let definitions = sets[id] ?? [:]
            for (name, members) in elements[id] ?? [:] where !members.isEmpty && definitions[name] == nil {
                problems.append("elements of set \(name) in \(id) without the set's key")
            }
            let tableSets = definitions.map { name, definition in
                var set = NFTSet(name: name, key: definition.key)
                set.definition = definition
                set.elements = elements[id]?[name] ?? []
                return set
            }
            built.append(NFTTable(id: id, sets: tableSets, chains: Array((chains[id] ?? [:]).values)))
        }
        guard problems.isEmpty else { return .failure(AssemblyProblems(problems: problems)) }
        let links = (shared ?? SharedLinks(LinkState())).merged(ports: ports)
        return .success(HostState(links: links, tables: built))
    }
}

struct AssemblyError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct AssemblyProblems: Error, CustomStringConvertible {
    var problems: [String]
    var description: String { problems.joined(separator: "; ") }
}
