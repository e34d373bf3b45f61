import Enforcer
import Foundation
import Etcd
import HostModel

/// The daemon's source in a cloud: this host's keys in etcd (one per
/// object, see `ObjectKey`), read once at one revision and then watched.
/// Each watch batch is one etcd transaction; the state is passed on when a
/// batch completes the host's `meta`, so a publish split over several
/// transactions is applied whole or not yet. When etcd can't be reached
/// the enforcer keeps the last state; the source reconnects with backoff,
/// reads again and watches on from there. A compacted watch is a full
/// resync (read again).
public struct EtcdSource: DesiredStateSource {
    public let client: EtcdClient
    public let layout: EtcdLayout
    public let host: String
    public let endpoints: [String]
    public let maximumBackoff: Duration
    /// How often the watch is checked against a read of the host's meta key.
    public let livenessInterval: Duration

    public init(
        client: EtcdClient, endpoints: [String], layout: EtcdLayout = EtcdLayout(), host: String,
        maximumBackoff: Duration = .seconds(10), livenessInterval: Duration = .seconds(10)
    ) {
        self.client = client
        self.endpoints = endpoints
        self.layout = layout
        self.host = host
        self.maximumBackoff = maximumBackoff
        self.livenessInterval = livenessInterval
    }

    public var description: String { "etcd:\(endpoints.joined(separator: ",")) \(layout.hostPrefix(host))" }

    public func events() -> AsyncStream<SourceEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SourceEvent.self)
        let task = Task { [self] in
            var backoff = Duration.milliseconds(250)
            let prefix = layout.hostPrefix(host)
            while !Task.isCancelled {
                do {
                    var assembler = HostAssembler()
                    let (kvs, revision) = try await client.range(prefix: prefix)
                    for kv in kvs { assembler.put(String(kv.key.dropFirst(prefix.count)), kv.value) }
                    if let event = event(assembler) {
                        continuation.yield(event)
                    } else if assembler.meta == nil {
                        continuation.yield(.unavailable("etcd has no key \(layout.metaKey(host)) yet: nothing published for this host"))
                    }
                    backoff = .milliseconds(250)
                    let delivered = DeliveredRevision(revision)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { [assembler] in
                            var assembler = assembler
                            for try await batch in client.watch(key: prefix, prefix: true, fromRevision: revision + 1) {
                                var metaChanged = false
                                for change in batch.events {
                                    let path = String(change.key.dropFirst(prefix.count))
                                    metaChanged = metaChanged || path == ObjectKey.meta.path
                                    switch change {
                                    case .put(let kv): assembler.put(path, kv.value)
                                    case .delete: assembler.delete(path)
                                    }
                                }
                                delivered.advance(to: batch.revision)
                                guard metaChanged else { continue }
                                if let event = event(assembler) {
                                    continuation.yield(event)
                                } else if assembler.meta == nil {
                                    continuation.yield(.unavailable("\(layout.metaKey(host)) was deleted from etcd; the last state stays enforced"))
                                }
                            }
                        }
                        group.addTask { try await checkLiveness(delivered) }
                        try await group.next()
                        group.cancelAll()
                    }
                    // A watch ends only with an error; an end without one is a disconnect too.
                    throw EtcdError.watchDisconnected(endpoint: endpoints.joined(separator: ","), reason: "the watch stream ended")
                } catch EtcdError.compacted {
                    continue  // read the keys again and watch from there
                } catch {
                    if Task.isCancelled { break }
                    continuation.yield(.unavailable("\(error); retrying in \(backoff)"))
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, maximumBackoff)
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// A watch whose connection died without a word (a peer gone, a
    /// firewall dropping the flow: no reset) stays silent, exactly like a
    /// watch with nothing to say. So the meta key, which every publish for
    /// this host writes, is read every `livenessInterval`: when etcd holds
    /// a meta newer than what the watch delivered, and still does a check
    /// later, or etcd can't be read at all, the watch is given up and the
    /// source reads everything again (with backoff while etcd is away).
    func checkLiveness(_ delivered: DeliveredRevision) async throws {
        var seenAhead: Int64?
        while true {
            try await Task.sleep(for: livenessInterval)
            let (meta, _) = try await client.get(layout.metaKey(host))
            guard let modRevision = meta?.modRevision, modRevision > delivered.revision else {
                seenAhead = nil
                continue
            }
            // Ahead once may be a batch on its way; ahead of a revision seen
            // a whole interval ago is a watch that isn't delivering.
            if let seenAhead, seenAhead > delivered.revision {
                throw EtcdError.watchDisconnected(
                    endpoint: endpoints.joined(separator: ","),
                    reason: "the watch is stalled: etcd has \(layout.metaKey(host)) at revision \(seenAhead), the watch delivered up to \(delivered.revision)")
            }
            seenAhead = modRevision
        }
    }

    /// The host's state as an event once its meta says it is complete: the
    /// state, or why it can't be used. Nil while there is nothing to apply
    /// (no meta, or a publish still under way).
    func event(_ assembler: HostAssembler) -> SourceEvent? {
        guard let meta = assembler.meta, meta.complete else { return nil }
        let revision = Revision(number: meta.revision, label: "r\(meta.revision) \(meta.label)")
        switch assembler.state() {
        case .success(let state): return .desired(state, revision)
        case .failure(let problems): return .rejected(revision, errors: problems.problems.map { layout.hostPrefix(host) + $0 })
        }
    }
}

/// The store revision a watch has delivered up to, shared with its liveness check.
final class DeliveredRevision: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64

    init(_ revision: Int64) { value = revision }

    var revision: Int64 { lock.withLock { value } }

    func advance(to revision: Int64) { lock.withLock { value = max(value, revision) } }
}
