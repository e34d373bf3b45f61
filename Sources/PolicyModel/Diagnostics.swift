/// One problem found in a policy: where (a JSON path such as
/// `ports[3].securityGroups[0]`) and what, as a plain sentence.
public struct Diagnostic: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `path: message`, the format `sgctl validate` prints one per line.
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.path, a.message) < (b.path, b.message)
    }
}

/// A policy that was rejected, with every problem found (not only the first).
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A JSON path under construction: `networks[0].segment.id`.
struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    private var text: String

    static let root = JSONPath(text: "")

    subscript(key: String) -> JSONPath {
        JSONPath(text: text.isEmpty ? key : "\(text).\(key)")
    }

    subscript(index: Int) -> JSONPath {
        JSONPath(text: "\(text)[\(index)]")
    }

    var description: String { text }
}

/// Suggests the known name nearest to a misspelled one, for "did you mean"
/// hints. Only close matches count: a name that merely shares a letter with
/// the typo helps nobody.
public enum NameSuggestion {
    public static func nearest(to name: String, in candidates: some Sequence<String>) -> String? {
        let target = Array(name.lowercased().utf8)
        var best: (distance: Int, name: String)?
        for candidate in candidates {
            let d = editDistance(target, Array(candidate.lowercased().utf8))
            if best == nil || d < best!.distance || (d == best!.distance && candidate < best!.name) {
                best = (d, candidate)
            }
        }
        guard let best else { return nil }
        let allowed = max(1, min(3, target.count / 3 + 1))
        return best.distance <= allowed ? best.name : nil
    }

    public static func hint(for name: String, in candidates: some Sequence<String>) -> String {
        nearest(to: name, in: candidates).map { " (did you mean \"\($0)\"?)" } ?? ""
    }

    /// Damerau-Levenshtein (optimal string alignment): a swapped pair of
    /// letters, the commonest typo, costs one.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
