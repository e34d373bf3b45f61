import AsyncHTTPClient
import NIOCore

// The gateway turns etcd's bidirectional Watch stream into one long POST to
// /v3/watch: the request body holds one create request, the response is
// newline-delimited JSON, `{"result": {...}}` per WatchResponse, starting
// with a `"created": true` one. The stream never ends by itself; this client
// ends it by throwing, closing the connection:
//   - compaction: `"canceled": true, "compact_revision": N` (after "created");
//   - other cancellation: `"canceled": true, "cancel_reason": "..."`;
//   - the gateway losing etcd: `{"error": {"grpc_code": 14, ...}}`, then EOF;
//   - the connection dropping (etcd killed): EOF or a connection error.

extension EtcdClient {
    /// Streams the changes of `key` (or of every key starting with it, with
    /// `prefix`) from `fromRevision` on, older ones included as long as etcd
    /// kept them: one batch per etcd response, in revision order, buffered
    /// until consumed.
    ///
    /// The stream never finishes normally. It throws `EtcdError.compacted`
    /// when `fromRevision` was compacted away (read again with a range, then
    /// watch from its revision + 1), and `EtcdError.watchDisconnected` when
    /// the connection drops (watch again from the last batch's revision + 1,
    /// with backoff). Cancelling the consuming task closes the connection.
    /// Equivalent to: `etcdctl watch [--prefix] --rev REV KEY`.
    public func watch(key: String, prefix: Bool = false, fromRevision: Int64) -> AsyncThrowingStream<EtcdWatchBatch, any Error> {
        let range = wireRange(key, prefix: prefix)
        let request = WireWatchRequest(createRequest: WireWatchCreateRequest(
            key: range.key, rangeEnd: range.rangeEnd, startRevision: WireInt64(fromRevision), progressNotify: true))
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: EtcdWatchBatch.self)
        let task = Task {
            do {
                try await self.streamWatch(request, into: continuation)
            } catch {
                continuation.finish(throwing: error)
            }
        }
        // The consumer stopped (cancelled, or dropped the stream): stop reading,
        // which cancels the HTTP request and closes its connection.
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Returns only by throwing (see `watch`).
    private func streamWatch(
        _ request: WireWatchRequest, into continuation: AsyncThrowingStream<EtcdWatchBatch, any Error>.Continuation
    ) async throws {
        let (endpoint, response) = try await openWatch(WireCoding.encode(request))
        var lines = LineSplitter()
        var reader = WatchResponseReader(endpoint: endpoint)
        do {
            for try await chunk in response.body {
                for line in try lines.split(appending: chunk.readableBytesView) {
                    if let batch = try reader.read(line) { continuation.yield(batch) }
                }
            }
            // At SIGTERM the gateway's last line, its error, has no newline.
            if let batch = try reader.read(lines.remainder) { continuation.yield(batch) }
        } catch let error as EtcdError {
            throw error
        } catch {
            try Task.checkCancellation()
            throw EtcdError.watchDisconnected(endpoint: endpoint.base, reason: TransportFailure.describe(error))
        }
        throw EtcdError.watchDisconnected(endpoint: endpoint.base, reason: "etcd ended the stream")
    }

    /// Sends the create request to the first endpoint that answers it within
    /// `timeout` (etcd answers at once with "created"); from then on the
    /// stream has no time limit.
    private func openWatch(_ body: [UInt8]) async throws -> (EtcdEndpoint, HTTPClientResponse) {
        var failures: [EtcdEndpointFailure] = []
        for index in endpointOrder() {
            let endpoint = endpoints[index]
            let response: HTTPClientResponse
            do {
                response = try await execute(
                    Self.request(endpoint.url(EtcdOperation.watch.path), body), deadline: .now() + TimeAmount(timeout))
            } catch {
                try Task.checkCancellation()
                let failure = EtcdEndpointFailure(endpoint: endpoint.base, underlying: error)
                logger.warning("etcd watch: cannot reach \(failure)")
                failures.append(failure)
                continue
            }
            markAnswered(index)
            guard response.status == .ok else {
                let body = try await withTimeLimit(timeout) { try await response.body.collect(upTo: 1 << 20) }
                throw Self.httpError("watch", endpoint, Int(response.status.code), Array(body.readableBytesView))
            }
            return (endpoint, response)
        }
        throw EtcdError.unreachable(operation: "watch", failures: failures)
    }
}

/// Turns the watch stream's lines into batches, and its endings into errors.
struct WatchResponseReader {
    let endpoint: EtcdEndpoint
    private var created = false

    init(endpoint: EtcdEndpoint) {
        self.endpoint = endpoint
    }

    /// A batch to hand on, or nil for lines that carry none (blank, "created").
    mutating func read(_ line: [UInt8]) throws -> EtcdWatchBatch? {
        guard line.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D }) else { return nil }
        let wire: WireWatchLine
        do {
            wire = try WireCoding.decode(WireWatchLine.self, from: line)
        } catch {
            throw invalid("\(error) in \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        if let error = wire.error {
            let code = error.grpcCode.map { " (gRPC code \($0))" } ?? ""
            throw EtcdError.watchDisconnected(
                endpoint: endpoint.base, reason: "the gateway lost etcd: \(error.message ?? "no message")\(code)")
        }
        guard let result = wire.result else { throw invalid("a line without result or error") }
        if let compactRevision = result.compactRevision?.value, compactRevision > 0 {
            throw EtcdError.compacted(endpoint: endpoint.base, compactRevision: compactRevision)
        }
        if result.canceled ?? false {
            throw EtcdError.watchCanceled(endpoint: endpoint.base, reason: result.cancelReason ?? "no reason given")
        }
        if result.created ?? false {
            created = true
            return nil
        }
        guard created else { throw invalid("events before the watch was created") }
        let events: [EtcdWatchEvent]
        do {
            events = try (result.events ?? []).map(EtcdWatchEvent.init(wire:))
        } catch {
            throw invalid("\(error)")
        }
        return EtcdWatchBatch(revision: events.last?.modRevision ?? result.header.revision, events: events)
    }

    private func invalid(_ reason: String) -> EtcdError {
        .invalidResponse(operation: "watch", endpoint: endpoint.base, reason: reason)
    }
}

/// Splits a byte stream into newline-terminated lines.
struct LineSplitter {
    /// A line longer than this means the stream is not what we think it is.
    static let maximumLineBytes = 256 << 20
    private(set) var remainder: [UInt8] = []

    mutating func split(appending bytes: some Collection<UInt8>) throws -> [[UInt8]] {
        remainder.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        var start = remainder.startIndex
        while let newline = remainder[start...].firstIndex(of: 0x0A) {
            lines.append(Array(remainder[start..<newline]))
            start = newline + 1
        }
        remainder.removeFirst(start)
        guard remainder.count <= Self.maximumLineBytes else {
            throw WireMappingError(description: "a watch response longer than \(Self.maximumLineBytes) bytes")
        }
        return lines
    }
}
