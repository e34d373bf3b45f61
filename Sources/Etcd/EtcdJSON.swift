import Foundation

// The etcd 3.4 JSON gateway's wire format (grpc-gateway over etcdserverpb):
// field names are the proto names in snake_case (the coders convert), bytes
// are base64, int64 and uint64 travel as JSON strings, and fields holding
// their zero value are left out: a missing `succeeded` is false, a missing
// `kvs` is empty, a missing `value` is empty, a put event has no `type`.

/// An int64 as the gateway writes it: a JSON string ("42"). Numbers are
/// accepted too, so a gateway that changes its mind still decodes.
struct WireInt64: Codable, Hashable {
    var value: Int64

    init(_ value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = Int64(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an int64: \"\(text)\"")
            }
            self.value = value
        } else {
            value = try container.decode(Int64.self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}

/// Bytes (keys, values) as base64 text.
struct WireBytes: Codable, Hashable {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ text: String) { bytes = Array(text.utf8) }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not base64: \"\(text.prefix(40))\"")
        }
        bytes = Array(data)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Data(bytes).base64EncodedString())
    }
}

enum WireCoding {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Same request, same bytes: requests can be compared in tests and logs.
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Sequence<UInt8>) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(bytes))
    }
}

// MARK: Shared

struct WireHeader: Decodable {
    var revision: WireInt64?
}

struct WireKeyValue: Decodable {
    var key: WireBytes?
    var value: WireBytes?
    var createRevision: WireInt64?
    var modRevision: WireInt64?
    var version: WireInt64?
}

/// A unary call's error body: `{"error": "...", "message": "...", "code": 3}`
/// (`code` is the gRPC status code).
struct WireError: Decodable {
    var error: String?
    var message: String?
    var code: Int?
}

// MARK: KV (/v3/kv/range, put, deleterange, txn, compaction)

struct WireRangeRequest: Encodable {
    var key: WireBytes
    var rangeEnd: WireBytes?
    var keysOnly: Bool?
}

struct WireRangeResponse: Decodable {
    var header: WireHeader?
    var kvs: [WireKeyValue]?
}

struct WirePutRequest: Encodable {
    var key: WireBytes
    var value: WireBytes
}

struct WirePutResponse: Decodable {
    var header: WireHeader?
}

struct WireDeleteRangeRequest: Encodable {
    var key: WireBytes
    var rangeEnd: WireBytes?
}

struct WireDeleteRangeResponse: Decodable {
    var header: WireHeader?
    var deleted: WireInt64?
}

struct WireCompare: Encodable {
    /// Enum names as strings ("EQUAL", "MOD"); the gateway accepts both names and numbers.
    var result: String
    var target: String
    var key: WireBytes
    var version: WireInt64?
    var modRevision: WireInt64?
    var value: WireBytes?
}

/// A oneof: exactly one field is set.
struct WireRequestOp: Encodable {
    var requestRange: WireRangeRequest?
    var requestPut: WirePutRequest?
    var requestDeleteRange: WireDeleteRangeRequest?
}

struct WireTxnRequest: Encodable {
    var compare: [WireCompare]
    var success: [WireRequestOp]
    var failure: [WireRequestOp]
}

struct WireResponseOp: Decodable {
    var responseRange: WireRangeResponse?
    var responsePut: WirePutResponse?
    var responseDeleteRange: WireDeleteRangeResponse?
}

struct WireTxnResponse: Decodable {
    var header: WireHeader?
    var succeeded: Bool?
    var responses: [WireResponseOp]?
}

struct WireCompactionRequest: Encodable {
    var revision: WireInt64
    /// Answer only once the old revisions are gone from the backend, so a
    /// watch from a compacted revision fails right after the call returns.
    var physical: Bool
}

struct WireCompactionResponse: Decodable {
    var header: WireHeader?
}

// MARK: Watch (/v3/watch)

struct WireWatchRequest: Encodable {
    var createRequest: WireWatchCreateRequest
}

struct WireWatchCreateRequest: Encodable {
    var key: WireBytes
    var rangeEnd: WireBytes?
    var startRevision: WireInt64
    /// Ask for empty responses when nothing changed for a while (etcd's
    /// default is every 10 minutes), so a watcher's revision stays recent.
    var progressNotify: Bool
}

/// One line of the watch stream: `{"result": {...}}`, or `{"error": {...}}`
/// when the gateway's gRPC stream to etcd failed (e.g. etcd shutting down).
struct WireWatchLine: Decodable {
    var result: WireWatchResponse?
    var error: WireStreamError?
}

struct WireWatchResponse: Decodable {
    var header: WireHeader?
    var created: Bool?
    var canceled: Bool?
    var compactRevision: WireInt64?
    var cancelReason: String?
    var events: [WireEvent]?
}

struct WireEvent: Decodable {
    /// "DELETE", or absent for a put (PUT is the enum's zero value).
    var type: String?
    var kv: WireKeyValue?
}

struct WireStreamError: Decodable {
    var grpcCode: Int?
    var httpCode: Int?
    var message: String?
}
