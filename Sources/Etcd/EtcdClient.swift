import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A client of etcd 3.4's v3 JSON gateway (the HTTP face of the gRPC API
/// that every etcd member serves on its client URLs). The operations are
/// in EtcdKV.swift and EtcdWatch.swift; this file holds the connection,
/// the endpoint failover and the unary call.
///
/// Call `shutdown()` before dropping the client: it owns an `HTTPClient`.
public final class EtcdClient: Sendable {
    let http: HTTPClient
    let endpoints: [EtcdEndpoint]
    /// The limit of each unary call on one endpoint, from connect to the last
    /// byte of the answer; for a watch, only until etcd confirms it.
    let timeout: Duration
    let logger: Logger
    /// Where `http.execute` runs, so sockets open on the group's threads.
    let executor: EventLoopTaskExecutor
    /// The endpoint that answered last. Calls start there, so a dead first
    /// endpoint costs one failed connect, not one per call.
    private let preferred = Mutex(0)

    /// Unary answers are read whole; a range bigger than this is refused
    /// rather than exhausting memory.
    static let maximumResponseBytes = 256 << 20

    /// - Parameters:
    ///   - endpoints: client URLs of the members, `http://10.0.0.1:2379` or
    ///     `https://...`, tried in order when one cannot be reached.
    ///   - tls: CA and client certificate for `https` endpoints; all
    ///     endpoints must be `https` when it is given.
    ///   - timeout: limit of each unary call per endpoint (default 5 s), of
    ///     which half at most for connecting.
    ///   - eventLoopGroup: where the connections live (default NIO's shared
    ///     group). Sockets are opened by its threads, so they are in the
    ///     network namespace those threads were started in.
    public init(
        endpoints: [String],
        tls: EtcdTLS? = nil,
        timeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "etcd"),
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) throws {
        guard !endpoints.isEmpty else { throw EtcdError.invalidEndpoint("", reason: "no endpoints given") }
        let parsed = try endpoints.map(EtcdEndpoint.init)
        if tls != nil, let plain = parsed.first(where: { !$0.isTLS }) {
            throw EtcdError.invalidEndpoint(plain.base, reason: "TLS files were given, so it must be https://")
        }
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = try tls?.configuration()
        // Half the call's time to connect: a connect that times out surely
        // sent nothing, so even a write can move on to the next endpoint
        // before the call's own limit runs out. No read timeout: a watch is
        // silent as long as nothing changes; unary calls get `timeout` from
        // `withTimeLimit` instead.
        configuration.timeout = .init(connect: TimeAmount(timeout / 2))
        // Fail a refused connect at once so the next endpoint is tried,
        // instead of retrying the same one until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        // Each watch holds one HTTP/1.1 connection for its lifetime; with the
        // default of 8 per host, eight watches would queue every other call.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        configuration.redirectConfiguration = .disallow
        let group = eventLoopGroup ?? HTTPClient.defaultEventLoopGroup
        self.http = HTTPClient(eventLoopGroup: group, configuration: configuration, backgroundActivityLogger: logger)
        self.executor = EventLoopTaskExecutor(group.next())
        self.endpoints = parsed
        self.timeout = timeout
        self.logger = logger
    }

    /// Closes every connection; running watches end with an error.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Endpoint indices to try, starting with the one that answered last.
    func endpointOrder() -> [Int] {
        let first = preferred.withLock { $0 }
        return endpoints.indices.map { (first + $0) % endpoints.count }
    }

    func markAnswered(_ index: Int) {
        preferred.withLock { $0 = index }
    }

    /// One gateway call, e.g. `POST /v3/kv/put`, tried on each endpoint in
    /// turn while they cannot be reached. Writes move on only when the
    /// request surely never left (the connect failed): a write that may have
    /// been applied is reported as `.interrupted`, never sent twice.
    func unary<Request: Encodable, Response: Decodable, Output>(
        _ operation: EtcdOperation, _ request: Request, answer: Response.Type,
        _ convert: (Response) throws -> Output
    ) async throws -> Output {
        let body = try WireCoding.encode(request)
        var failures: [EtcdEndpointFailure] = []
        for index in endpointOrder() {
            let endpoint = endpoints[index]
            let reply: (status: Int, body: [UInt8])
            do {
                reply = try await withTimeLimit(timeout) { try await self.post(endpoint.url(operation.path), body) }
            } catch let error as ResponseTooLarge {
                throw EtcdError.invalidResponse(operation: operation.name, endpoint: endpoint.base, reason: "\(error)")
            } catch {
                try Task.checkCancellation()
                guard operation.isReadOnly || TransportFailure.isBeforeSending(error) else {
                    throw EtcdError.interrupted(operation: operation.name, endpoint: endpoint.base, underlying: error)
                }
                let failure = EtcdEndpointFailure(endpoint: endpoint.base, underlying: error)
                logger.warning("etcd \(operation.name): cannot reach \(failure)")
                failures.append(failure)
                continue
            }
            guard reply.status == 200 else {
                let error = Self.httpError(operation.name, endpoint, reply.status, reply.body)
                // 503 is etcd's "no leader" or "shutting down": another member may do.
                if reply.status == 503, operation.isReadOnly {
                    let failure = EtcdEndpointFailure(endpoint: endpoint.base, underlying: error)
                    logger.warning("etcd \(operation.name): cannot use \(failure)")
                    failures.append(failure)
                    continue
                }
                markAnswered(index)
                throw error
            }
            markAnswered(index)
            do {
                return try convert(try WireCoding.decode(Response.self, from: reply.body))
            } catch {
                throw EtcdError.invalidResponse(operation: operation.name, endpoint: endpoint.base, reason: "\(error)")
            }
        }
        throw EtcdError.unreachable(operation: operation.name, failures: failures)
    }

    private func post(_ url: String, _ body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        let response = try await execute(Self.request(url, body), deadline: .distantFuture)
        do {
            let bytes = try await response.body.collect(upTo: Self.maximumResponseBytes)
            return (Int(response.status.code), Array(bytes.readableBytesView))
        } catch is NIOTooManyBytesError {
            throw ResponseTooLarge()
        }
    }

    /// Not a transport failure: another endpoint would answer the same.
    struct ResponseTooLarge: Error, CustomStringConvertible {
        var description: String { "the answer is larger than \(EtcdClient.maximumResponseBytes >> 20) MiB" }
    }

    /// `http.execute`, started on the group's thread (see EventLoopTaskExecutor).
    func execute(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> HTTPClientResponse {
        try await withTaskExecutorPreference(executor) {
            try await http.execute(request, deadline: deadline, logger: logger)
        }
    }

    static func request(_ url: String, _ body: [UInt8]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    /// The gateway's error body is `{"error": "...", "message": "...", "code": N}`.
    static func httpError(_ operation: String, _ endpoint: EtcdEndpoint, _ status: Int, _ body: [UInt8]) -> EtcdError {
        let wire = try? WireCoding.decode(WireError.self, from: body)
        let message = wire?.message ?? wire?.error ?? String(decoding: body.prefix(500), as: UTF8.self)
        return .http(operation: operation, endpoint: endpoint.base, status: status, grpcCode: wire?.code,
            message: message.trimmingSuffix(while: \.isWhitespace))
    }
}

/// A gateway path and whether repeating it on another endpoint is harmless.
struct EtcdOperation: Sendable {
    var name: String
    var path: String
    var isReadOnly: Bool

    static let range = EtcdOperation(name: "range", path: "/v3/kv/range", isReadOnly: true)
    static let put = EtcdOperation(name: "put", path: "/v3/kv/put", isReadOnly: false)
    static let txn = EtcdOperation(name: "txn", path: "/v3/kv/txn", isReadOnly: false)
    static let compaction = EtcdOperation(name: "compaction", path: "/v3/kv/compaction", isReadOnly: false)
    static let watch = EtcdOperation(name: "watch", path: "/v3/watch", isReadOnly: true)
}

extension String {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var text = self
        while let last = text.last, predicate(last) { text.removeLast() }
        return text
    }
}
