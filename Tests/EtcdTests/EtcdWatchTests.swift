import Etcd
import Foundation
import Testing

@Suite(.enabled(if: EtcdAccess.available, EtcdAccess.reason))
struct EtcdWatchTests {
    @Test func watchFromAPastRevisionDeliversHistoryThenLiveChanges() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let first = try await client.put("/sg/k", "1".bytes)
            try await client.put("/sg/other", "ignored".bytes)
            let second = try await client.put("/sg/k", "2".bytes)
            let deleteRevision = try await client.txn(if: [], then: [.delete(key: "/sg/k")]).revision

            let stream = client.watch(key: "/sg/k", fromRevision: first)
            let live = Task {
                try await Task.sleep(for: .milliseconds(200))
                return try await client.put("/sg/k", "3".bytes)
            }
            let batches = try await within(10, "watch /sg/k") { try await firstBatches(withEvents: 4, of: stream) }
            let third = try await live.value

            // The history may come in one batch; each batch's revision is its last event's.
            #expect(batches.map(\.revision) == batches.map { $0.events.last?.modRevision })
            #expect(batches.last?.revision == third)
            #expect(batches.flatMap(\.events).map(\.modRevision) == [first, second, deleteRevision, third])
            #expect(batches.flatMap(\.events) == [
                .put(EtcdKeyValue(key: "/sg/k", value: "1".bytes, createRevision: first, modRevision: first, version: 1)),
                .put(EtcdKeyValue(key: "/sg/k", value: "2".bytes, createRevision: first, modRevision: second, version: 2)),
                .delete(key: "/sg/k", modRevision: deleteRevision),
                .put(EtcdKeyValue(key: "/sg/k", value: "3".bytes, createRevision: third, modRevision: third, version: 1)),
            ])
        }
    }

    @Test func prefixWatchGetsATxnAsOneBatch() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let start = try await client.put("/sg/ports/a", "a".bytes)
            let stream = client.watch(key: "/sg/ports/", prefix: true, fromRevision: start + 1)
            let txn = try await client.txn(if: [], then: [
                .put(key: "/sg/ports/b", value: "b".bytes), .put(key: "/sg/other", value: []),
                .delete(key: "/sg/ports/a"),
            ])
            let batch = try await within(10, "watch /sg/ports/") { () -> EtcdWatchBatch in
                for try await batch in stream where !batch.events.isEmpty { return batch }
                throw CommandError(command: "watch", output: "ended without a batch")
            }
            // One batch at the txn's revision, in the txn's order, without /sg/other.
            #expect(batch.revision == txn.revision)
            #expect(batch.events == [
                .put(EtcdKeyValue(
                    key: "/sg/ports/b", value: "b".bytes, createRevision: txn.revision, modRevision: txn.revision,
                    version: 1)),
                .delete(key: "/sg/ports/a", modRevision: txn.revision),
            ])
        }
    }

    @Test func watchFromACompactedRevisionEndsWithCompacted() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let old = try await client.put("/sg/k", "1".bytes)
            try await client.put("/sg/k", "2".bytes)
            let kept = try await client.put("/sg/k", "3".bytes)
            try await client.compact(kept)

            let stream = client.watch(key: "/sg/k", fromRevision: old)
            let error = try await within(10, "watch of a compacted revision") { () -> (any Error)? in
                do {
                    for try await batch in stream { Issue.record("unexpected \(batch)") }
                    return nil
                } catch {
                    return error
                }
            }
            guard case .compacted(let endpoint, let compactRevision)? = error as? EtcdError else {
                Issue.record("expected .compacted, got \(String(describing: error))")
                return
            }
            #expect(compactRevision == kept)
            #expect(endpoint == etcd.endpoint)

            // Resync as a caller would: range, then watch from its revision + 1.
            let (kvs, revision) = try await client.range(prefix: "/sg/")
            #expect(kvs.map(\.text) == ["3"])
            let resumed = client.watch(key: "/sg/k", fromRevision: revision + 1)
            let next = try await client.put("/sg/k", "4".bytes)
            let events = try await within(10, "resumed watch") { try await firstBatches(withEvents: 1, of: resumed) }
            #expect(events.map(\.revision) == [next])
        }
    }

    @Test func watchThrowsWhenEtcdIsKilled() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let start = try await client.put("/sg/k", "1".bytes)
            let stream = client.watch(key: "/sg/k", fromRevision: start)
            let ended = try await within(15, "watch after etcd was killed") { () -> (any Error)? in
                var iterator = stream.makeAsyncIterator()
                _ = try await iterator.next()
                etcd.kill()
                do {
                    while let batch = try await iterator.next() { Issue.record("unexpected \(batch)") }
                    return nil
                } catch {
                    return error
                }
            }
            guard case .watchDisconnected(let endpoint, _)? = ended as? EtcdError else {
                Issue.record("expected .watchDisconnected, got \(String(describing: ended))")
                return
            }
            #expect(endpoint == etcd.endpoint)
            #expect("\(ended!)" == "etcd watch at \(etcd.endpoint) disconnected: the connection closed in the middle of the answer")

            // Reconnecting now fails at once, naming the endpoint.
            let again = client.watch(key: "/sg/k", fromRevision: start)
            await #expect(throws: EtcdError.self) {
                for try await _ in again {}
            }
        }
    }

    @Test func cancellingTheConsumerClosesTheConnection() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            _ = try etcd.etcdctl(["put", "/sg/k", "1"])
            #expect(try etcd.ownConnections() == 0)
            let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
            let consumer = Task {
                defer { startedContinuation.finish() }
                for try await _ in client.watch(key: "/sg/k", fromRevision: 1) {
                    startedContinuation.yield()
                }
            }
            var receivedBatch = false
            for await _ in started {
                receivedBatch = true
                break
            }
            guard receivedBatch else {
                Issue.record("the watch ended before its first batch: \(await consumer.result)")
                return
            }
            #expect(try etcd.ownConnections() == 1)

            consumer.cancel()
            _ = await consumer.result
            let deadline = Date().addingTimeInterval(5)
            while try etcd.ownConnections() > 0, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try etcd.ownConnections() == 0)
        }
    }
}

/// The first batches of a watch that hold at least `count` events.
func firstBatches(
    withEvents count: Int, of stream: AsyncThrowingStream<EtcdWatchBatch, any Error>
) async throws -> [EtcdWatchBatch] {
    var batches: [EtcdWatchBatch] = []
    for try await batch in stream where !batch.events.isEmpty {
        batches.append(batch)
        if batches.flatMap(\.events).count >= count { return batches }
    }
    return batches
}
