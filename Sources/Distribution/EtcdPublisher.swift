import Etcd
import HostModel

/// What a publish wrote.
public struct PublishResult: Sendable, Hashable {
    /// The policy revision now in etcd.
    public var revision: Int64
    /// Hosts whose key was written (their state changed), and removed.
    public var written: [String]
    public var removed: [String]
    public var unchanged: Int
    /// etcd transactions used: one unless the change exceeded one
    /// transaction's limits (128 operations, about 1 MiB).
    public var transactions: Int
    /// Object keys put or deleted (besides each host's meta and the
    /// revision key), and the bytes of keys and values sent.
    public var keys: Int
    public var bytes: Int
}

public enum PublishError: Error, CustomStringConvertible {
    /// Another publisher changed the revision in between: read again and retry.
    case conflict(expected: Int64, found: Int64?)
    /// One object is larger than etcd accepts in a request.
    case tooLarge(key: String, bytes: Int)
    /// etcd answered something the publisher can't use.
    case unexpectedAnswer(String)

    public var description: String {
        switch self {
        case .conflict(let expected, let found):
            "another publisher changed the policy revision in etcd meanwhile (expected mod revision \(expected), found \(found.map(String.init) ?? "none")); nothing more was written: publish again"
        case .tooLarge(let key, let bytes):
            "\(key) is \(bytes) bytes, more than etcd accepts in one request (--max-request-bytes, 1.5 MiB by default)"
        case .unexpectedAnswer(let what):
            "etcd answered unexpectedly: \(what)"
        }
    }
}

/// Publishes compiled host states to etcd, one key per object (see
/// `ObjectKey`): a change writes only the objects it changes, for the hosts
/// it changes, with the new policy revision. Every transaction is guarded
/// by a compare-and-swap on the revision key, so two publishers can't
/// interleave.
///
/// The publisher remembers what it wrote: after the first publish (which
/// reads what etcd holds), a change is diffed against that memory and
/// costs one transaction, not a read of the cloud. The memory is dropped
/// when a publish fails or another publisher got in between; the next
/// publish reads etcd again.
public actor EtcdPublisher {
    public nonisolated let client: EtcdClient
    public nonisolated let layout: EtcdLayout

    /// etcd's defaults: --max-txn-ops 128 and --max-request-bytes 1.5 MiB.
    static let operationsPerTransaction = 120
    static let bytesPerTransaction = 1 << 20

    /// What etcd holds under the prefix, valid while the revision key's mod
    /// revision is still `modRevision`.
    private var known: Published?

    struct Published {
        var modRevision: Int64
        var revision: Int64
        var hosts: [String: StoredHost]
    }

    struct StoredHost {
        /// nil when the host's keys couldn't be read back as a state.
        var state: HostState?
        var complete: Bool
    }

    public init(client: EtcdClient, layout: EtcdLayout = EtcdLayout()) {
        self.client = client
        self.layout = layout
    }

    /// The whole cloud: every host's state; hosts published before but
    /// absent from `states` have their keys deleted.
    public func publish(states: [String: HostState], label: String) async throws -> PublishResult {
        try await publish(changed: states, removed: nil, label: label)
    }

    /// Some hosts only (a controller's affected hosts): the others keep
    /// their keys. `removed` hosts' keys are deleted.
    public func publish(changed states: [String: HostState], removed: [String], label: String) async throws -> PublishResult {
        try await publish(changed: states, removed: Optional(removed), label: label)
    }

    /// `removed == nil`: `states` is the whole cloud.
    private func publish(changed states: [String: HostState], removed: [String]?, label: String) async throws -> PublishResult {
        do {
            let stored = try await knownOrRead()
            let revision = stored.revision + 1
            var plan = TransactionPlan()
            var written: [String] = []
            var keys = 0
            for host in states.keys.sorted() {
                let before = stored.hosts[host]
                if let before, before.state == nil {
                    // Keys that don't read back as a state: cleared first (a put
                    // can't share a transaction with a delete of its range), then
                    // written whole.
                    plan.clearFirst(.deletePrefix(layout.hostPrefix(host)))
                }
                let writes = try ObjectWrites.between(before?.state ?? HostState(), states[host]!)
                if writes.isEmpty && before?.complete == true { continue }
                let requests = writes.map { request($0, host: host) }
                keys += requests.count
                try plan.add(host: requests, meta: { complete in
                    .put(key: self.layout.metaKey(host), value: try RecordCoding.encode(HostMeta(revision: revision, label: label, complete: complete)))
                })
                written.append(host)
            }
            let gone = (removed ?? stored.hosts.keys.filter { states[$0] == nil }).filter { stored.hosts[$0] != nil }.sorted()
            for host in gone { try plan.add(.deletePrefix(layout.hostPrefix(host))) }
            let unchanged = states.count - written.count
            if written.isEmpty && gone.isEmpty {
                // Nothing to write, by this publisher's memory: one read says
                // whether that memory still is what etcd holds.
                let (current, _) = try await client.get(layout.revisionKey)
                if (current?.modRevision ?? 0) != stored.modRevision {
                    throw PublishError.conflict(expected: stored.modRevision, found: current?.modRevision)
                }
                return PublishResult(revision: stored.revision, written: [], removed: [], unchanged: unchanged, transactions: 0, keys: 0, bytes: 0)
            }
            try plan.add(.put(key: layout.revisionKey, value: RecordCoding.encode(RevisionRecord(revision: revision, label: label))))

            var storeRevision = stored.modRevision
            for batch in plan.transactions {
                storeRevision = try await commit(batch, guardRevision: stored.modRevision)
            }
            var hosts = stored.hosts
            for host in written { hosts[host] = StoredHost(state: states[host], complete: true) }
            for host in gone { hosts[host] = nil }
            known = Published(modRevision: storeRevision, revision: revision, hosts: hosts)
            return PublishResult(
                revision: revision, written: written, removed: gone, unchanged: unchanged,
                transactions: plan.transactions.count, keys: keys, bytes: plan.bytes)
        } catch {
            known = nil  // what etcd holds now is not known: read it next time
            throw error
        }
    }

    /// What this publisher wrote last, or what etcd holds now, read at one revision.
    private func knownOrRead() async throws -> Published {
        if let known { return known }
        let snapshot = try await client.txn(if: [], then: [.get(layout.revisionKey), .getPrefix(layout.hostsPrefix)])
        guard snapshot.responses.count == 2, case .get(let revisionKVs) = snapshot.responses[0],
            case .get(let hostKVs) = snapshot.responses[1]
        else { throw PublishError.unexpectedAnswer("a read of \(layout.prefix) answered \(snapshot.responses)") }
        let record = try revisionKVs.first.map { try RecordCoding.decode(RevisionRecord.self, $0.value) }
        var assemblers: [String: HostAssembler] = [:]
        for kv in hostKVs {
            let rest = kv.key.dropFirst(layout.hostsPrefix.count)
            guard let slash = rest.firstIndex(of: "/") else { continue }
            assemblers[String(rest[..<slash]), default: HostAssembler()].put(String(rest[rest.index(after: slash)...]), kv.value)
        }
        return Published(
            modRevision: revisionKVs.first?.modRevision ?? 0, revision: record?.revision ?? 0,
            hosts: assemblers.mapValues { StoredHost(state: try? $0.state().get(), complete: $0.meta?.complete == true) })
    }

    private func request(_ write: ObjectWrite, host: String) -> EtcdRequest {
        let prefix = layout.hostPrefix(host)
        return switch write {
        case .put(let path, let value): .put(key: prefix + path, value: value)
        case .delete(let path): .delete(key: prefix + path)
        case .deletePrefix(let path): .deletePrefix(prefix + path)
        }
    }

    /// One guarded transaction; returns the store's revision after it.
    private func commit(_ requests: [EtcdRequest], guardRevision: Int64) async throws -> Int64 {
        let result = try await client.txn(
            if: [.modRevision(key: layout.revisionKey, equals: guardRevision)], then: requests,
            else: [.get(layout.revisionKey)])
        guard result.succeeded else {
            var found: Int64?
            if case .get(let kvs)? = result.responses.first { found = kvs.first?.modRevision }
            throw PublishError.conflict(expected: guardRevision, found: found)
        }
        return result.revision
    }
}

/// A publish's requests cut into transactions within etcd's limits. A host's
/// objects go into one transaction with its `meta` when they fit in one;
/// when they don't, the host's meta is first written incomplete, so its
/// daemon waits for the transaction that completes it.
struct TransactionPlan {
    private var batches: [[EtcdRequest]] = []
    private var clearing: [EtcdRequest] = []
    private(set) var bytes = 0
    private var openBytes = 0
    private var open: [EtcdRequest] { batches.last ?? [] }

    /// In commit order: the clearing deletes first, then the writes.
    var transactions: [[EtcdRequest]] {
        stride(from: 0, to: clearing.count, by: EtcdPublisher.operationsPerTransaction).map {
            Array(clearing[$0..<min($0 + EtcdPublisher.operationsPerTransaction, clearing.count)])
        } + batches
    }

    /// A request to commit before all the others.
    mutating func clearFirst(_ request: EtcdRequest) { clearing.append(request) }

    mutating func add(_ request: EtcdRequest) throws {
        try add(request, bytes: Self.size(request))
    }

    mutating func add(host requests: [EtcdRequest], meta: (Bool) throws -> EtcdRequest) throws {
        let complete = try meta(true)
        let total = requests.reduce(Self.size(complete)) { $0 + Self.size($1) }
        let fitsOpen = open.count + requests.count + 1 <= EtcdPublisher.operationsPerTransaction
            && openBytes + total <= EtcdPublisher.bytesPerTransaction
        let fitsAlone = requests.count + 1 <= EtcdPublisher.operationsPerTransaction && total <= EtcdPublisher.bytesPerTransaction
        if !fitsOpen && fitsAlone {
            startTransaction()
        } else if !fitsOpen {
            try add(try meta(false))
        }
        for request in requests { try add(request) }
        try add(complete)
    }

    private mutating func add(_ request: EtcdRequest, bytes size: Int) throws {
        if size > EtcdPublisher.bytesPerTransaction { throw PublishError.tooLarge(key: Self.key(request), bytes: size) }
        if batches.isEmpty || open.count >= EtcdPublisher.operationsPerTransaction
            || openBytes + size > EtcdPublisher.bytesPerTransaction
        {
            startTransaction()
        }
        batches[batches.count - 1].append(request)
        openBytes += size
        bytes += size
    }

    private mutating func startTransaction() {
        batches.append([])
        openBytes = 0
    }

    private static func size(_ request: EtcdRequest) -> Int {
        switch request {
        case .put(let key, let value): key.utf8.count + value.count
        default: key(request).utf8.count
        }
    }

    private static func key(_ request: EtcdRequest) -> String {
        switch request {
        case .put(let key, _), .delete(let key), .deletePrefix(let key), .get(let key), .getPrefix(let key): key
        }
    }
}
