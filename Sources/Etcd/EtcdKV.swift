// The key-value calls. Each returns the store's revision at the time of the
// answer, the revision a watch continues from (revision + 1).

extension EtcdClient {
    /// One key, or nil when absent. Equivalent to: `etcdctl get KEY`.
    public func get(_ key: String) async throws -> (kv: EtcdKeyValue?, revision: Int64) {
        let range = wireRange(key, prefix: false)
        return try await unary(.range, WireRangeRequest(key: range.key, rangeEnd: range.rangeEnd),
            answer: WireRangeResponse.self
        ) { wire in
            let kvs = try (wire.kvs ?? []).map(EtcdKeyValue.init(wire:))
            guard kvs.count <= 1 else { throw WireMappingError(description: "\(kvs.count) key-values for one key") }
            return (kvs.first, wire.header.revision)
        }
    }

    /// Every key starting with `prefix`, sorted by key, all read at one
    /// revision. Equivalent to: `etcdctl get --prefix PREFIX`.
    public func range(prefix: String) async throws -> (kvs: [EtcdKeyValue], revision: Int64) {
        let range = wireRange(prefix, prefix: true)
        return try await unary(.range, WireRangeRequest(key: range.key, rangeEnd: range.rangeEnd),
            answer: WireRangeResponse.self
        ) { wire in
            (try (wire.kvs ?? []).map(EtcdKeyValue.init(wire:)), wire.header.revision)
        }
    }

    /// The keys starting with `prefix`, sorted, without their values (a
    /// listing of large values costs only the keys). Equivalent to:
    /// `etcdctl get --prefix --keys-only PREFIX`.
    public func keys(prefix: String) async throws -> (keys: [String], revision: Int64) {
        let range = wireRange(prefix, prefix: true)
        return try await unary(.range, WireRangeRequest(key: range.key, rangeEnd: range.rangeEnd, keysOnly: true),
            answer: WireRangeResponse.self
        ) { wire in
            (try (wire.kvs ?? []).map { try decodeKey($0.key) }, wire.header.revision)
        }
    }

    /// Writes a key and returns the revision of the write (the key's new
    /// mod revision). Equivalent to: `etcdctl put KEY VALUE`.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8]) async throws -> Int64 {
        try await unary(.put, WirePutRequest(key: WireBytes(key), value: WireBytes(value)),
            answer: WirePutResponse.self
        ) { $0.header.revision }
    }

    /// Runs `success` if every compare holds, else `failure`, atomically.
    /// A compare-and-swap: `txn(if: [.modRevision(key: k, equals: seen)],
    /// then: [.put(key: k, value: new)])`, with `seen` 0 to create only.
    /// Equivalent to: `etcdctl txn`.
    public func txn(
        if compares: [EtcdCompare], then success: [EtcdRequest], else failure: [EtcdRequest] = []
    ) async throws -> EtcdTxnResult {
        let request = WireTxnRequest(
            compare: compares.map(WireCompare.init),
            success: success.map(WireRequestOp.init),
            failure: failure.map(WireRequestOp.init))
        return try await unary(.txn, request, answer: WireTxnResponse.self) { wire in
            let ran = (wire.succeeded ?? false) ? success : failure
            return try EtcdTxnResult(wire: wire, requestCount: ran.count)
        }
    }

    /// Discards the history before `revision`: watches from older revisions
    /// then end with `EtcdError.compacted`. Returns when the old revisions
    /// are physically gone. Equivalent to: `etcdctl compact --physical REV`.
    @discardableResult
    public func compact(_ revision: Int64) async throws -> Int64 {
        try await unary(.compaction, WireCompactionRequest(revision: WireInt64(revision), physical: true),
            answer: WireCompactionResponse.self
        ) { $0.header.revision }
    }
}
