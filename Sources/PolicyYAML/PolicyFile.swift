import PolicyModel

/// A policy document as bytes, in JSON or YAML: how `sgctl` and the
/// daemon's file source read one.
public enum PolicyFile {
    public enum Syntax: String, Sendable, CaseIterable { case auto, json, yaml }

    /// Decodes and validates `bytes`. `name` (a path) picks the syntax
    /// when `syntax` is `.auto`: YAML for .yaml/.yml, JSON for .json, else
    /// JSON when the text starts with `{`.
    public static func decode(_ bytes: [UInt8], name: String, syntax: Syntax = .auto) -> Result<Policy, PolicyError> {
        guard resolved(syntax, name: name, bytes: bytes) == .yaml else { return PolicyDecoder.decode(json: bytes) }
        do {
            return PolicyDecoder.decode(try YAMLReader.parse(String(decoding: bytes, as: UTF8.self)))
        } catch {
            return .failure(PolicyError([Diagnostic(path: "", message: "invalid YAML: \(error)")]))
        }
    }

    static func resolved(_ syntax: Syntax, name: String, bytes: [UInt8]) -> Syntax {
        if syntax != .auto { return syntax }
        let lower = name.lowercased()
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return .yaml }
        if lower.hasSuffix(".json") { return .json }
        // Skip whitespace and a UTF-8 byte-order mark.
        let first = bytes.first { ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].contains($0) }
        return first == UInt8(ascii: "{") || first == nil ? .json : .yaml
    }
}
