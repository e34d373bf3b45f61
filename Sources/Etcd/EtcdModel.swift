/// One key as etcd stores it. Revisions are cluster-wide: `modRevision` is
/// the revision of the last write to this key, `createRevision` the one that
/// created it (since its last delete), `version` counts writes since then.
/// Equivalent to one entry of `etcdctl get KEY -w json`.
public struct EtcdKeyValue: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
    }
}

/// A condition of a transaction, compared with equality (all a
/// compare-and-swap needs). etcd treats an absent key as mod revision 0 and
/// version 0, so `.modRevision(key: k, equals: 0)` means "k does not exist".
public enum EtcdCompare: Sendable, Hashable {
    case modRevision(key: String, equals: Int64)
    case version(key: String, equals: Int64)
    case value(key: String, equals: [UInt8])
}

/// One operation inside a transaction.
public enum EtcdRequest: Sendable, Hashable {
    case put(key: String, value: [UInt8])
    case delete(key: String)
    case deletePrefix(String)
    case get(String)
    case getPrefix(String)
}

/// What one `EtcdRequest` of the branch that ran returned, in the same order.
public enum EtcdResponse: Sendable, Hashable {
    case put
    case delete(deleted: Int64)
    case get([EtcdKeyValue])
}

public struct EtcdTxnResult: Sendable, Hashable {
    /// Whether every compare held, so the `then` branch ran (else `else`).
    public var succeeded: Bool
    /// The store's revision after the transaction (unchanged if nothing was written).
    public var revision: Int64
    public var responses: [EtcdResponse]

    public init(succeeded: Bool, revision: Int64, responses: [EtcdResponse]) {
        self.succeeded = succeeded
        self.revision = revision
        self.responses = responses
    }
}

public enum EtcdWatchEvent: Sendable, Hashable {
    case put(EtcdKeyValue)
    /// etcd reports only the key and the revision of the delete.
    case delete(key: String, modRevision: Int64)

    public var key: String {
        switch self {
        case .put(let kv): kv.key
        case .delete(let key, _): key
        }
    }

    /// The revision of the change.
    public var modRevision: Int64 {
        switch self {
        case .put(let kv): kv.modRevision
        case .delete(_, let modRevision): modRevision
        }
    }
}

/// One watch response: events in revision order, possibly of several
/// revisions (a watch from the past gets the history in few batches).
/// `events` is empty for a progress notification, which says that nothing
/// under the watched keys changed up to `revision`.
public struct EtcdWatchBatch: Sendable, Hashable {
    /// Every change up to this revision has been delivered: the last
    /// event's, or the store's for a progress notification. A watch
    /// resumed from `revision + 1` misses nothing. (etcd's own header
    /// revision is not used: while it sends a long history in parts, every
    /// part carries the current revision.)
    public var revision: Int64
    public var events: [EtcdWatchEvent]

    public init(revision: Int64, events: [EtcdWatchEvent]) {
        self.revision = revision
        self.events = events
    }
}

/// The end of the key range that holds every key starting with `prefix`,
/// as `etcdctl --prefix` computes it: the prefix with its last byte below
/// 0xff incremented. A prefix of only 0xff bytes (or none) has no such key,
/// and etcd reads `range_end` "\0" as "to the end of the keyspace".
func prefixRangeEnd(_ prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    while let last = end.last {
        if last < 0xff {
            end[end.count - 1] = last + 1
            return end
        }
        end.removeLast()
    }
    return [0]
}
