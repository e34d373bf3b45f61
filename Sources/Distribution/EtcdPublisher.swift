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
}

public enum PublishError: Error, CustomStringConvertible {
    /// Another publisher changed the revision in between: read again and retry.
    case conflict(expected: Int64, found: Int64?)
    /// One host's state is larger than etcd accepts in a request.
    case tooLarge(host: String, bytes: Int)

    public var description: String {
        switch self {
        case .conflict(let expected, let found):
            "another publisher changed the policy revision in etcd meanwhile (expected mod revision \(expected), found \(found.map(String.init) ?? "none")); nothing more was written: publish again"
        case .tooLarge(let host, let bytes):
            "the compiled state of host \(host) is \(bytes) bytes, more than etcd accepts in one request (--max-request-bytes, 1.5 MiB by default)"
        }
    }
}

/// Publishes compiled host states to etcd: only the keys of hosts whose
/// state changed, with the new policy revision, guarded by a compare-and-swap
/// on the revision key so two publishers can't interleave.
public struct EtcdPublisher: Sendable {
    public let client: EtcdClient
    public let layout: EtcdLayout

    /// etcd's defaults: --max-txn-ops 128 and --max-request-bytes 1.5 MiB.
    static let operationsPerTransaction = 120
    static let bytesPerTransaction = 1 << 20

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
        let (current, _) = try await client.get(layout.revisionKey)
        let previous = try current.map { try RecordCoding.decode(RevisionRecord.self, $0.value) }
        let revision = (previous?.revision ?? 0) + 1
        var digests = previous?.hosts ?? [:]

        var puts: [(host: String, bytes: [UInt8])] = []
        for host in states.keys.sorted() {
            let state = states[host]!
            let digest = try RecordCoding.digest(state)
            if digests[host] == digest { continue }
            digests[host] = digest
            let bytes = try RecordCoding.encode(HostRecord(revision: revision, label: label, state: state))
            if bytes.count > Self.bytesPerTransaction { throw PublishError.tooLarge(host: layout.hostKey(host), bytes: bytes.count) }
            puts.append((host, bytes))
        }
        let gone = (removed ?? digests.keys.filter { states[$0] == nil }).filter { digests[$0] != nil }.sorted()
        for host in gone { digests[host] = nil }
        let unchanged = states.count - puts.count
        if puts.isEmpty && gone.isEmpty {
            return PublishResult(revision: previous?.revision ?? 0, written: [], removed: [], unchanged: unchanged, transactions: 0)
        }

        // Host keys in as few transactions as the limits allow; the revision
        // key goes with the last one. Every transaction is guarded by the
        // revision key being as read, so a concurrent publisher fails one of us.
        var requests: [(EtcdRequest, Int)] = puts.map { (.put(key: layout.hostKey($0.host), value: $0.bytes), $0.bytes.count) }
        requests += gone.map { (.delete(key: layout.hostKey($0)), 0) }
        let record = try RecordCoding.encode(RevisionRecord(revision: revision, label: label, hosts: digests))
        requests.append((.put(key: layout.revisionKey, value: record), record.count))
        let guardRevision = current?.modRevision ?? 0
        var transactions = 0
        var batch: [EtcdRequest] = []
        var batchBytes = 0
        for (index, (request, bytes)) in requests.enumerated() {
            if !batch.isEmpty && (batch.count >= Self.operationsPerTransaction || batchBytes + bytes > Self.bytesPerTransaction) {
                try await commit(batch, guardRevision: guardRevision)
                transactions += 1
                batch = []
                batchBytes = 0
            }
            batch.append(request)
            batchBytes += bytes
            if index == requests.count - 1 {
                try await commit(batch, guardRevision: guardRevision)
                transactions += 1
            }
        }
        return PublishResult(
            revision: revision, written: puts.map(\.host), removed: gone, unchanged: unchanged, transactions: transactions)
    }

    private func commit(_ requests: [EtcdRequest], guardRevision: Int64) async throws {
        let result = try await client.txn(
            if: [.modRevision(key: layout.revisionKey, equals: guardRevision)], then: requests,
            else: [.get(layout.revisionKey)])
        guard result.succeeded else {
            var found: Int64?
            if case .get(let kvs)? = result.responses.first { found = kvs.first?.modRevision }
            throw PublishError.conflict(expected: guardRevision, found: found)
        }
    }
}
