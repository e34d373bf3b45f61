import HostModel

/// One write to a host's objects in etcd, with paths relative to the host's prefix.
enum ObjectWrite: Hashable {
    case put(String, [UInt8])
    case delete(String)
    /// Every key under a path prefix: a set's elements, or a table's contents.
    case deletePrefix(String)
}

/// The writes that turn the objects of `old` into those of `new`, found by
/// comparing the two states structurally: only objects that differ are
/// encoded, so a change costs what it changes, not the host's size.
/// Objects that vanish whole take their contents with them by prefix
/// (a deleted set, its elements), which never overlaps a put of the same
/// write list: etcd refuses a transaction that puts into a range it deletes.
enum ObjectWrites {
    static func between(_ old: HostState, _ new: HostState) throws -> [ObjectWrite] {
        var writes: [ObjectWrite] = []
        try links(old.links, new.links, into: &writes)
        for id in Set(old.tables.keys).union(new.tables.keys).sorted() {
            switch (old.tables[id], new.tables[id]) {
            case (nil, let table?):
                writes.append(.put(ObjectKey.table(id).path, try RecordCoding.encode([String: String]())))
                try contents(of: id, NFTTable(id: id), table, into: &writes)
            case (.some, nil):
                writes.append(.delete(ObjectKey.table(id).path))
                writes += ObjectKey.tableContentsPaths(id).map(ObjectWrite.deletePrefix)
            case (let before?, let after?):
                try contents(of: id, before, after, into: &writes)
            case (nil, nil):
                break
            }
        }
        return writes
    }

    /// Every object of `state`: what a host's keys hold when written from nothing.
    static func all(_ state: HostState) throws -> [ObjectWrite] { try between(HostState(), state) }

    private static func links(_ old: LinkState, _ new: LinkState, into writes: inout [ObjectWrite]) throws {
        let shared = SharedLinks(new)
        if SharedLinks(old) != shared {
            writes.append(.put(ObjectKey.links.path, try RecordCoding.encode(shared)))
        }
        for device in Set(old.ports.keys).union(new.ports.keys).sorted() where old.ports[device] != new.ports[device] {
            let path = ObjectKey.port(device).path
            if let port = new.ports[device] {
                writes.append(.put(path, try RecordCoding.encode(port)))
            } else {
                writes.append(.delete(path))
            }
        }
    }

    private static func contents(of id: NFTTableID, _ old: NFTTable, _ new: NFTTable, into writes: inout [ObjectWrite]) throws {
        for name in Set(old.sets.keys).union(new.sets.keys).sorted() {
            let before = old.sets[name], after = new.sets[name]
            guard let after else {
                writes.append(.delete(ObjectKey.set(id, name).path))
                writes.append(.deletePrefix(ObjectKey.elementsPath(id, set: name)))
                continue
            }
            if before?.definition != after.definition {
                writes.append(.put(ObjectKey.set(id, name).path, try RecordCoding.encode(SetDefinition(name: name, definition: after.definition))))
            }
            let previous = before?.elements ?? []
            if previous == after.elements { continue }
            // A map element whose data changed is a put of its key, never
            // also a delete: etcd refuses a transaction naming a key twice.
            var put: Set<String> = []
            for element in after.elements.subtracting(previous).sorted() {
                let path = ObjectKey.element(id, set: name, element).path
                put.insert(path)
                writes.append(.put(path, try RecordCoding.encode(element)))
            }
            for element in previous.subtracting(after.elements).sorted() {
                let path = ObjectKey.element(id, set: name, element).path
                if !put.contains(path) { writes.append(.delete(path)) }
            }
        }
        for name in Set(old.chains.keys).union(new.chains.keys).sorted() where old.chains[name] != new.chains[name] {
            let path = ObjectKey.chain(id, name).path
            if let chain = new.chains[name] {
                writes.append(.put(path, try RecordCoding.encode(chain)))
            } else {
                writes.append(.delete(path))
            }
        }
    }
}
