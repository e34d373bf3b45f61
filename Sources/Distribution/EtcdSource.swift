import Enforcer
import Etcd
import HostModel

/// The daemon's source in a cloud: this host's key in etcd, read once and
/// then watched. When etcd can't be reached the enforcer keeps the last
/// state; the source reconnects with backoff, reads the key again and
/// watches on from there. A compacted watch is a full resync (read again).
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

    public var description: String { "etcd:\(endpoints.joined(separator: ",")) \(layout.hostKey(host))" }

    public func events() -> AsyncStream<SourceEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SourceEvent.self)
        let task = Task { [self] in
            var backoff = Duration.milliseconds(250)
            while !Task.isCancelled {
                do {
                    let key = layout.hostKey(host)
                    let (current, revision) = try await client.get(key)
                    continuation.yield(current.map(event) ?? .unavailable("etcd has no key \(key) yet: nothing published for this host"))
                    backoff = .milliseconds(250)
                    for try await batch in client.watch(key: key, fromRevision: revision + 1) {
                        for change in batch.events {
                            switch change {
                            case .put(let kv):
                                continuation.yield(event(kv))
                            case .delete:
                                continuation.yield(.unavailable("\(key) was deleted from etcd; the last state stays enforced"))
                            }
                        }
                    }
                    // A watch ends only with an error; an end without one is a disconnect too.
                    throw EtcdError.watchDisconnected(endpoint: endpoints.joined(separator: ","), reason: "the watch stream ended")
                } catch EtcdError.compacted {
                    continue  // read the key again and watch from there
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

    /// A host key's value as an event: its state, or why it can't be used.
    func event(_ kv: EtcdKeyValue) -> SourceEvent {
        do {
            let record = try RecordCoding.decode(HostRecord.self, kv.value)
            return .desired(record.state, Revision(number: record.revision, label: "r\(record.revision) \(record.label)"))
        } catch {
            return .rejected(
                Revision(number: kv.modRevision, label: "etcd mod revision \(kv.modRevision)"),
                errors: ["\(kv.key): not a host state: \(error)"])
        }
    }
}
