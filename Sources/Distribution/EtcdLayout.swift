import Foundation
import HostModel

/// Where the cloud's compiled state lives in etcd, and how it is encoded.
/// Under a prefix (default `/sgctl/v1`):
///
///     PREFIX/revision             {"revision": N, "label": "..."}: the policy revision published last
///     PREFIX/hosts/NAME/...       one key per object of NAME's state (see `ObjectKey`), and its `meta`
///     PREFIX/status/NAME          {"host": ..., "revision": N, "inSync": true, ...}  (written by NAME's sgd)
///
/// Each daemon reads and watches only its own host's prefix; a publisher
/// guards every write with the revision key, so two can't interleave.
public struct EtcdLayout: Sendable, Hashable {
    public var prefix: String

    public init(prefix: String = "/sgctl/v1") {
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    }

    public var revisionKey: String { prefix + "/revision" }
    public var hostsPrefix: String { prefix + "/hosts/" }
    /// Every key of one host; with the slash, so `hv1` doesn't cover `hv10`.
    public func hostPrefix(_ host: String) -> String { hostsPrefix + host + "/" }
    public func metaKey(_ host: String) -> String { hostPrefix(host) + ObjectKey.meta.path }
    public var statusPrefix: String { prefix + "/status/" }
    public func statusKey(_ host: String) -> String { statusPrefix + host }
}

/// The revision key's value: the policy revision published last.
struct RevisionRecord: Codable, Hashable {
    var revision: Int64
    var label: String
}

/// Deterministic JSON (sorted keys), so equal states have equal bytes and digests.
public enum RecordCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
