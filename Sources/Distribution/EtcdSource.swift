import Enforcer
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

    public init(client: EtcdClient, endpoints: [String], layout: EtcdLayout = EtcdLayout(), host: String, maximumBackoff: Duration = .seconds(10)) {
        self.client = client
        self.endpoints = endpoints
        self.layout = layout
        self.host = host
        self.maximumBackoff = maximumBackoff
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
                        guard metaChanged else { continue }
                        if let event = event(assembler) {
                            continuation.yield(event)
                        } else if assembler.meta == nil {
                            continuation.yield(.unavailable("\(layout.metaKey(host)) was deleted from etcd; the last state stays enforced"))
                        }
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
