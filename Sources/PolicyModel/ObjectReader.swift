/// Collects the problems of one decoding run, so that every error of a policy
/// is reported at once rather than only the first.
final class DiagnosticLog {
    private var entries: [(path: JSONPath, diagnostic: Diagnostic)] = []

    func report(_ path: JSONPath, _ message: String) {
        entries.append((path, Diagnostic(path: path.description, message: message)))
    }

    var isEmpty: Bool { entries.isEmpty }

    /// In the order found.
    var diagnostics: [Diagnostic] { entries.map(\.diagnostic) }

    /// In document order of their paths (an object before its members, array
    /// elements by index, members as written), then by message; the same
    /// document always gives the same list, whichever check found what.
    func diagnostics(inOrderOf document: JSONValue) -> [Diagnostic] {
        entries.enumerated()
            .map { (position: $0.element.path.position(in: document), sequence: $0.offset, diagnostic: $0.element.diagnostic) }
            .sorted { a, b in
                if a.position != b.position { return a.position.lexicographicallyPrecedes(b.position) }
                if a.diagnostic.message != b.diagnostic.message { return a.diagnostic.message < b.diagnostic.message }
                return a.sequence < b.sequence
            }
            .map(\.diagnostic)
    }
}

/// Reads the members of one JSON object strictly: duplicate keys, unknown
/// keys, missing required keys and wrong types are reported with their path.
/// A getter returns nil when the member is absent or invalid (the problem is
/// already logged), so callers just skip what they cannot build.
struct ObjectReader {
    let path: JSONPath
    private let log: DiagnosticLog
    private var members: [String: JSONValue] = [:]
    private let knownKeys: [String]

    /// Returns nil (and logs) when `value` is not an object.
    init?(_ value: JSONValue, at path: JSONPath, log: DiagnosticLog, knownKeys: [String]) {
        guard case .object(let list) = value else {
            log.report(path, "expected an object, found \(value.typeName)")
            return nil
        }
        self.path = path
        self.log = log
        self.knownKeys = knownKeys
        for (position, member) in list.enumerated() {
            // The first member of a key counts; later ones are only reported.
            if members[member.key] != nil {
                log.report(path.member(member.key, at: position), "duplicate key \(Shown.quoted(member.key))")
                continue
            }
            members[member.key] = member.value
            if !knownKeys.contains(member.key) {
                log.report(
                    path.member(member.key, at: position),
                    "unknown field\(NameSuggestion.hint(for: member.key, in: knownKeys))")
            }
        }
    }

    func has(_ key: String) -> Bool { members[key] != nil }

    /// The raw member; logs when a required one is missing.
    func value(_ key: String, required: Bool = false) -> JSONValue? {
        precondition(knownKeys.contains(key), "reading undeclared key \(key)")
        guard let value = members[key] else {
            if required { log.report(path, "missing required field \"\(key)\"") }
            return nil
        }
        return value
    }

    func string(_ key: String, required: Bool = false) -> String? {
        guard let value = value(key, required: required) else { return nil }
        return Self.string(value, at: path[key], log: log)
    }

    func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let b) = value else {
            log.report(path[key], "expected true or false, found \(value.typeName)")
            return nil
        }
        return b
    }

    func integer(_ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        guard let value = value(key, required: required) else { return nil }
        return Self.integer(value, in: range, at: path[key], log: log)
    }

    func array(_ key: String, required: Bool = false) -> [JSONValue]? {
        guard let value = value(key, required: required) else { return nil }
        guard case .array(let items) = value else {
            log.report(path[key], "expected a list, found \(value.typeName)")
            return nil
        }
        return items
    }

    static func string(_ value: JSONValue, at path: JSONPath, log: DiagnosticLog) -> String? {
        guard case .string(let s) = value else {
            log.report(path, "expected a string, found \(value.typeName)")
            return nil
        }
        return s
    }

    static func integer(_ value: JSONValue, in range: ClosedRange<Int>, at path: JSONPath, log: DiagnosticLog) -> Int? {
        guard case .number(let number) = value else {
            log.report(path, "expected an integer, found \(value.typeName)")
            return nil
        }
        guard let n = number.integerValue else {
            if number.isWholeNumberLexeme {
                // An integer too large for Int is out of every range here.
                log.report(path, "\(Shown.number(number)) is out of range \(range.lowerBound)..\(range.upperBound)")
            } else {
                log.report(path, "expected an integer, found \(Shown.number(number))")
            }
            return nil
        }
        guard range.contains(n) else {
            log.report(path, "\(n) is out of range \(range.lowerBound)..\(range.upperBound)")
            return nil
        }
        return n
    }
}

extension JSONNumber {
    /// True for a lexeme without fraction or exponent ("-12", "99999999999999999999").
    var isWholeNumberLexeme: Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }
}
