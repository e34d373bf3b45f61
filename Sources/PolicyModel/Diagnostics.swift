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

/// A JSON path under construction: `networks[0].segment.id`. Paths are made
/// for every value the decoder reads but rendered only for the few that have
/// a problem, so a path is a link to its parent step, cheap to extend; it
/// keeps its steps so diagnostics can be put in document order.
struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    enum Step: Hashable, Sendable {
        /// A member of an object; `member` is its position among the
        /// object's members when known (it tells a duplicate key from the
        /// first member of that key).
        case key(String, member: Int?)
        case index(Int)
    }

    private final class Link: Sendable {
        let parent: Link?
        let step: Step

        init(parent: Link?, step: Step) {
            self.parent = parent
            self.step = step
        }
    }

    private let last: Link?

    static let root = JSONPath(last: nil)

    subscript(key: String) -> JSONPath {
        JSONPath(last: Link(parent: last, step: .key(key, member: nil)))
    }

    subscript(index: Int) -> JSONPath {
        JSONPath(last: Link(parent: last, step: .index(index)))
    }

    /// The member `key` that is the `position`th member of this object.
    func member(_ key: String, at position: Int) -> JSONPath {
        JSONPath(last: Link(parent: last, step: .key(key, member: position)))
    }

    /// From the root.
    var steps: [Step] {
        var steps: [Step] = []
        var link = last
        while let l = link {
            steps.append(l.step)
            link = l.parent
        }
        return steps.reversed()
    }

    var description: String {
        var text = ""
        for step in steps {
            switch step {
            case .key(let key, _): text += text.isEmpty ? key : ".\(key)"
            case .index(let i): text += "[\(i)]"
            }
        }
        return text
    }

    static func == (a: JSONPath, b: JSONPath) -> Bool { a.last === b.last || a.steps == b.steps }

    func hash(into hasher: inout Hasher) { hasher.combine(steps) }

    /// Where the path points in `document`, as the positions of its steps:
    /// the member's position for a key (the first member of that key unless
    /// the path says which), the index for an array. Comparing these
    /// lexicographically gives document order, an object before its members.
    /// Steps that do not exist in the document sort after those that do.
    func position(in document: JSONValue) -> [Int] {
        let steps = self.steps
        var node: JSONValue? = document
        var position: [Int] = []
        position.reserveCapacity(steps.count)
        for step in steps {
            switch (step, node) {
            case (.key(let key, let member), .object(let members)?):
                let i = member ?? members.firstIndex { $0.key == key } ?? members.count
                position.append(i)
                node = i < members.count ? members[i].value : nil
            case (.index(let i), .array(let elements)?):
                position.append(i)
                node = elements.indices.contains(i) ? elements[i] : nil
            default:
                position.append(Int.max)
                node = nil
            }
        }
        return position
    }
}

/// Text of a value a user wrote, for messages: quoted and escaped like a JSON
/// string, and cut short when it is long (the path already says where it is).
enum Shown {
    static let limit = 64

    static func quoted(_ text: String) -> String {
        var shown = text
        if shown.unicodeScalars.count > limit {
            shown = String(String.UnicodeScalarView(shown.unicodeScalars.prefix(limit))) + "…"
        }
        return JSONValue.string(shown).serialized()
    }

    /// A number lexeme as written, cut short when it is long.
    static func number(_ number: JSONNumber) -> String {
        number.text.utf8.count > limit ? String(number.text.prefix(limit)) + "…" : number.text
    }

    /// A short description of any value: scalars as written, containers by type.
    static func value(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): quoted(s)
        case .number(let n): number(n)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array, .object: value.typeName
        }
    }
}

/// Suggests the known name nearest to a misspelled one, for "did you mean"
/// hints. Only close matches count: a name that merely shares a letter with
/// the typo helps nobody.
public enum NameSuggestion {
    public static func nearest(to name: String, in candidates: some Sequence<String>) -> String? {
        // The distance is quadratic in the lengths; names and keys are short
        // (names at most 63 characters), so longer text gets no suggestion
        // rather than costing seconds per reference.
        guard name.utf8.count <= maximumLength else { return nil }
        let target = Array(name.lowercased().utf8)
        let allowed = max(1, min(3, target.count / 3 + 1))
        var best: (distance: Int, name: String)?
        for candidate in candidates {
            let lowered = Array(candidate.lowercased().utf8)
            // The distance is at least the difference in length.
            guard abs(lowered.count - target.count) <= allowed else { continue }
            let d = editDistance(target, lowered)
            if best == nil || d < best!.distance || (d == best!.distance && candidate < best!.name) {
                best = (d, candidate)
            }
        }
        guard let best else { return nil }
        return best.distance <= allowed ? best.name : nil
    }

    /// Longer names get no suggestion.
    static let maximumLength = 128

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
