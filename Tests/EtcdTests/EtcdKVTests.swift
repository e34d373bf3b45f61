import Etcd
import Testing

@Suite(.enabled(if: EtcdAccess.available, EtcdAccess.reason))
struct EtcdKVTests {
    @Test func putGetAndRangeCarryRevisions() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let first = try await client.put("/sg/a", "one".bytes)
            let second = try await client.put("/sg/a", "two".bytes)
            #expect(second == first + 1)

            let (kv, revision) = try await client.get("/sg/a")
            #expect(revision == second)
            #expect(kv == EtcdKeyValue(
                key: "/sg/a", value: "two".bytes, createRevision: first, modRevision: second, version: 2))
            // The independent reader sees the same value.
            #expect(try etcd.etcdctl(["get", "/sg/a", "--print-value-only"]) == "two\n")

            let (missing, missingRevision) = try await client.get("/sg/none")
            #expect(missing == nil)
            #expect(missingRevision == second)

            // Any bytes survive, and an empty value is not an absent key.
            let binary: [UInt8] = [0, 0xff, 0x0a, 0x22, 0x5c]
            try await client.put("/sg/b", binary)
            try await client.put("/sg/c", [])
            try await client.put("/sh/outside", "x".bytes)
            let last = try await client.put("/sg", "not under /sg/".bytes)

            let (kvs, rangeRevision) = try await client.range(prefix: "/sg/")
            #expect(rangeRevision == last)
            #expect(kvs.map(\.key) == ["/sg/a", "/sg/b", "/sg/c"])
            #expect(kvs.map(\.value) == ["two".bytes, binary, []])
            #expect(kvs[2].version == 1)

            let (everything, _) = try await client.range(prefix: "")
            #expect(everything.map(\.key) == ["/sg", "/sg/a", "/sg/b", "/sg/c", "/sh/outside"])
        }
    }

    @Test func putOfAKeyWrittenByEtcdctlIsReadBack() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            _ = try etcd.etcdctl(["put", "/sg/ünïcode key", "written by etcdctl"])
            let (kv, _) = try await client.get("/sg/ünïcode key")
            #expect(kv?.text == "written by etcdctl")
        }
    }

    @Test func compareAndSwap() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            // Create only if absent: an absent key has mod revision 0.
            let created = try await client.txn(
                if: [.modRevision(key: "/sg/lock", equals: 0)], then: [.put(key: "/sg/lock", value: "a".bytes)])
            #expect(created.succeeded)
            #expect(created.responses == [.put])

            // A second create fails and runs the else branch, which reads the holder.
            let again = try await client.txn(
                if: [.modRevision(key: "/sg/lock", equals: 0)], then: [.put(key: "/sg/lock", value: "b".bytes)],
                else: [.get("/sg/lock")])
            #expect(!again.succeeded)
            #expect(again.revision == created.revision)
            guard case .get(let holders) = again.responses.first, let holder = holders.first else {
                Issue.record("expected the else branch's get, got \(again.responses)")
                return
            }
            #expect(holder.text == "a")
            #expect(holder.modRevision == created.revision)

            // Swap with a stale revision fails, with the current one succeeds.
            let stale = try await client.txn(
                if: [.modRevision(key: "/sg/lock", equals: holder.modRevision - 1)],
                then: [.put(key: "/sg/lock", value: "stale".bytes)])
            #expect(!stale.succeeded)
            let swapped = try await client.txn(
                if: [.modRevision(key: "/sg/lock", equals: holder.modRevision)],
                then: [.put(key: "/sg/lock", value: "c".bytes), .put(key: "/sg/other", value: "d".bytes)])
            #expect(swapped.succeeded)
            #expect(swapped.revision == holder.modRevision + 1)
            #expect(try etcd.etcdctl(["get", "/sg/lock", "--print-value-only"]) == "c\n")

            // Version and value compares.
            let byVersion = try await client.txn(
                if: [.version(key: "/sg/lock", equals: 2), .value(key: "/sg/lock", equals: "c".bytes)],
                then: [.get("/sg/lock")])
            #expect(byVersion.succeeded)
            let byWrongValue = try await client.txn(
                if: [.value(key: "/sg/lock", equals: "a".bytes)], then: [.delete(key: "/sg/lock")])
            #expect(!byWrongValue.succeeded)

            // Deletes report how many keys went.
            try await client.put("/sg/p/1", [])
            try await client.put("/sg/p/2", [])
            let deleted = try await client.txn(
                if: [], then: [.delete(key: "/sg/lock"), .deletePrefix("/sg/p/"), .getPrefix("/sg/")])
            #expect(deleted.succeeded)
            #expect(deleted.responses.count == 3)
            #expect(deleted.responses.first == .delete(deleted: 1))
            #expect(deleted.responses.dropFirst().first == .delete(deleted: 2))
            guard case .get(let rest) = deleted.responses.last else {
                Issue.record("expected a get, got \(deleted.responses)")
                return
            }
            // A txn reads its own writes: only /sg/other is left.
            #expect(rest.map(\.key) == ["/sg/other"])
            #expect(try await client.range(prefix: "/sg/").kvs.map(\.key) == ["/sg/other"])
        }
    }

    @Test func etcdRefusalsCarryEtcdsMessage() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            // etcd refuses a txn that writes one key twice (gRPC InvalidArgument).
            do {
                _ = try await client.txn(if: [], then: [.put(key: "k", value: []), .delete(key: "k")])
                Issue.record("the txn should have been refused")
            } catch let error as EtcdError {
                guard case .http(let operation, let endpoint, let status, let code, let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(operation == "txn")
                #expect(endpoint == etcd.endpoint)
                #expect(status == 400)
                #expect(code == 3)
                #expect(message == "etcdserver: duplicate key given in txn request")
                #expect("\(error)".contains("etcd txn at \(etcd.endpoint) failed with HTTP 400"))
            }
            // Compacting twice to the same revision.
            let revision = try await client.put("k", [])
            try await client.compact(revision)
            await #expect(throws: EtcdError.self) { try await client.compact(revision) }
        }
    }
}
