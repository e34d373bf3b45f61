// Between the public values (EtcdModel.swift) and the gateway's JSON
// (EtcdJSON.swift): requests one way, answers the other, filling in the
// zero values the gateway leaves out.

/// An answer that decoded as JSON but does not hold what etcd promises.
struct WireMappingError: Error, CustomStringConvertible {
    var description: String
}

extension WireHeader? {
    var revision: Int64 { self?.revision?.value ?? 0 }
}

extension EtcdKeyValue {
    init(wire: WireKeyValue) throws {
        self.init(
            key: try decodeKey(wire.key),
            value: wire.value?.bytes ?? [],
            createRevision: wire.createRevision?.value ?? 0,
            modRevision: wire.modRevision?.value ?? 0,
            version: wire.version?.value ?? 0)
    }
}

/// etcd keys are bytes; this client's are strings, so a key that is not
/// UTF-8 is reported rather than silently changed into another key.
func decodeKey(_ wire: WireBytes?) throws -> String {
    guard let bytes = wire?.bytes, !bytes.isEmpty else { throw WireMappingError(description: "a key-value without a key") }
    guard let key = String(validating: bytes, as: UTF8.self) else {
        throw WireMappingError(description: "key \(bytes.prefix(64).map { String($0, radix: 16) }) is not UTF-8")
    }
    return key
}

/// `key` and `range_end` of a range or delete: one key, or every key that
/// starts with a prefix. The empty prefix is "\0" to "\0", all keys, since
/// etcd refuses an empty key.
func wireRange(_ key: String, prefix: Bool) -> (key: WireBytes, rangeEnd: WireBytes?) {
    guard prefix else { return (WireBytes(key), nil) }
    let bytes = Array(key.utf8)
    return (WireBytes(bytes.isEmpty ? [0] : bytes), WireBytes(prefixRangeEnd(bytes)))
}

extension WireCompare {
    init(_ compare: EtcdCompare) {
        switch compare {
        case .modRevision(let key, let revision):
            self.init(result: "EQUAL", target: "MOD", key: WireBytes(key), modRevision: WireInt64(revision))
        case .version(let key, let version):
            self.init(result: "EQUAL", target: "VERSION", key: WireBytes(key), version: WireInt64(version))
        case .value(let key, let value):
            self.init(result: "EQUAL", target: "VALUE", key: WireBytes(key), value: WireBytes(value))
        }
    }
}

extension WireRequestOp {
    init(_ request: EtcdRequest) {
        switch request {
        case .put(let key, let value):
            self.init(requestPut: WirePutRequest(key: WireBytes(key), value: WireBytes(value)))
        case .delete(let key):
            let range = wireRange(key, prefix: false)
            self.init(requestDeleteRange: WireDeleteRangeRequest(key: range.key, rangeEnd: range.rangeEnd))
        case .deletePrefix(let prefix):
            let range = wireRange(prefix, prefix: true)
            self.init(requestDeleteRange: WireDeleteRangeRequest(key: range.key, rangeEnd: range.rangeEnd))
        case .get(let key):
            let range = wireRange(key, prefix: false)
            self.init(requestRange: WireRangeRequest(key: range.key, rangeEnd: range.rangeEnd))
        case .getPrefix(let prefix):
            let range = wireRange(prefix, prefix: true)
            self.init(requestRange: WireRangeRequest(key: range.key, rangeEnd: range.rangeEnd))
        }
    }
}

extension EtcdResponse {
    init(wire: WireResponseOp) throws {
        if let range = wire.responseRange {
            self = .get(try (range.kvs ?? []).map(EtcdKeyValue.init(wire:)))
        } else if wire.responsePut != nil {
            self = .put
        } else if let delete = wire.responseDeleteRange {
            self = .delete(deleted: delete.deleted?.value ?? 0)
        } else {
            throw WireMappingError(description: "a txn response of unknown kind")
        }
    }
}

extension EtcdTxnResult {
    init(wire: WireTxnResponse, requestCount: Int) throws {
        let responses = try (wire.responses ?? []).map(EtcdResponse.init(wire:))
        guard responses.count == requestCount else {
            throw WireMappingError(description: "\(responses.count) txn responses for \(requestCount) requests")
        }
        self.init(succeeded: wire.succeeded ?? false, revision: wire.header.revision, responses: responses)
    }
}

extension EtcdWatchEvent {
    init(wire: WireEvent) throws {
        guard let kv = wire.kv else { throw WireMappingError(description: "a watch event without a key-value") }
        switch wire.type ?? "PUT" {
        case "PUT":
            self = .put(try EtcdKeyValue(wire: kv))
        case "DELETE":
            self = .delete(key: try decodeKey(kv.key), modRevision: kv.modRevision?.value ?? 0)
        case let other:
            throw WireMappingError(description: "a watch event of unknown type \(other)")
        }
    }
}
