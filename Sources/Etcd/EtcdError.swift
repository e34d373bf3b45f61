/// Errors of `EtcdClient`. Each description names the operation ("etcd
/// put", "etcd watch") and the endpoint, so a log line alone says what failed
/// where.
public enum EtcdError: Error, CustomStringConvertible {
    /// An endpoint given to `EtcdClient.init` is not `http(s)://HOST:PORT`.
    case invalidEndpoint(String, reason: String)
    /// The TLS files given to `EtcdClient.init` could not be loaded.
    case invalidTLS(file: String, underlying: any Error)
    /// No endpoint answered; one failure per endpoint tried, in order.
    case unreachable(operation: String, failures: [EtcdEndpointFailure])
    /// A write reached an endpoint but its answer did not come back, so it
    /// may or may not have been applied; it is not retried on another
    /// endpoint. Read the key to find out.
    case interrupted(operation: String, endpoint: String, underlying: any Error)
    /// etcd answered with an error status: `message` is etcd's own (e.g.
    /// "etcdserver: mvcc: required revision has been compacted"), `grpcCode`
    /// the gRPC status code behind it.
    case http(operation: String, endpoint: String, status: Int, grpcCode: Int?, message: String)
    /// The answer was not what the gateway sends.
    case invalidResponse(operation: String, endpoint: String, reason: String)
    /// A watch's start revision was compacted away: read the current state
    /// with a range and watch again from its revision + 1.
    case compacted(endpoint: String, compactRevision: Int64)
    /// etcd canceled a watch for another reason (e.g. permission denied).
    case watchCanceled(endpoint: String, reason: String)
    /// A watch stream ended: the connection dropped, etcd went away, or the
    /// gateway reported its stream to etcd broken. Watch again from the last
    /// revision seen + 1, with backoff.
    case watchDisconnected(endpoint: String, reason: String)

    public var description: String {
        switch self {
        case .invalidEndpoint(let endpoint, let reason):
            "etcd endpoint \"\(endpoint)\" is invalid: \(reason)"
        case .invalidTLS(let file, let underlying):
            "etcd TLS: cannot load \(file): \(underlying)"
        case .unreachable(let operation, let failures):
            if failures.count == 1, let failure = failures.first {
                "etcd \(operation): cannot reach \(failure)"
            } else {
                "etcd \(operation): cannot reach any endpoint: "
                    + failures.map(\.description).joined(separator: "; ")
            }
        case .interrupted(let operation, let endpoint, let underlying):
            "etcd \(operation) at \(endpoint) was interrupted and may or may not have been applied: "
                + TransportFailure.describe(underlying, overTLS: endpoint.hasPrefix("https://"))
        case .http(let operation, let endpoint, let status, let grpcCode, let message):
            "etcd \(operation) at \(endpoint) failed with HTTP \(status)"
                + (grpcCode.map { " (gRPC code \($0))" } ?? "") + ": \(message)"
        case .invalidResponse(let operation, let endpoint, let reason):
            "etcd \(operation) at \(endpoint): unexpected answer: \(reason)"
        case .compacted(let endpoint, let compactRevision):
            "etcd watch at \(endpoint): the start revision was compacted (oldest kept: \(compactRevision)); read again with a range"
        case .watchCanceled(let endpoint, let reason):
            "etcd watch at \(endpoint) was canceled by etcd: \(reason)"
        case .watchDisconnected(let endpoint, let reason):
            "etcd watch at \(endpoint) disconnected: \(reason)"
        }
    }
}

/// Why one endpoint could not be used.
public struct EtcdEndpointFailure: Sendable, CustomStringConvertible {
    public var endpoint: String
    public var underlying: any Error

    public init(endpoint: String, underlying: any Error) {
        self.endpoint = endpoint
        self.underlying = underlying
    }

    /// NIO's errors print as structs; TransportFailure says what happened instead.
    public var description: String {
        "\(endpoint) (\(TransportFailure.describe(underlying, overTLS: endpoint.hasPrefix("https://"))))"
    }
}

/// The unary call's own time limit ran out.
struct EtcdTimeout: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "no answer within \(limit.formattedSeconds)" }
}

extension Duration {
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
