import Crypto
import Foundation
import HostModel

/// Where the cloud's compiled state lives in etcd, and how it is encoded.
/// Under a prefix (default `/sgctl/v1`):
///
///     PREFIX/revision     {"revision": N, "label": "...", "hosts": {"hv1": "<SHA-256 of its state>", ...}}
///     PREFIX/hosts/NAME   {"revision": N, "label": "...", "state": <HostState>}
///     PREFIX/status/NAME  {"host": ..., "revision": N, "inSync": true, ...}  (written by NAME's sgd)
///
/// Each daemon watches only its own host key; a publisher reads only the
/// small revision key to know which host keys must change.
public struct EtcdLayout: Sendable, Hashable {
    public var prefix: String

    public init(prefix: String = "/sgctl/v1") {
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    }

    public var revisionKey: String { prefix + "/revision" }
    public var hostsPrefix: String { prefix + "/hosts/" }
    public func hostKey(_ host: String) -> String { hostsPrefix + host }
    public var statusPrefix: String { prefix + "/status/" }
    public func statusKey(_ host: String) -> String { statusPrefix + host }
}

/// The revision key's value: the policy revision in force and the digest
/// of every published host's state.
struct RevisionRecord: Codable, Hashable {
    var revision: Int64
    var label: String
    var hosts: [String: String]
}

/// A host key's value: its state and the revision that last changed it.
struct HostRecord: Codable {
    var revision: Int64
    var label: String
    var state: HostState
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

    static func digest(_ state: HostState) throws -> String {
        SHA256.hash(data: try encode(state)).map { String(format: "%02x", $0) }.joined()
    }
}
