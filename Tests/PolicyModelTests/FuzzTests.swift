import Foundation
import Testing
import PolicyModel
import PolicyYAML

// Fuzz-style tests of PolicyDecoder: thousands of deterministic mutations of
// valid policies (the base policy of PolicyDecoderTests and the examples
// under policies/examples), at the byte level and at the tree level. Whatever
// the input, decoding must not crash or hang, and must give either a policy
// that survives PolicyEncoder unchanged, or at least one diagnostic, each
// with a message.

@Suite("PolicyDecoder fuzzing") struct FuzzTests {}

// MARK: - Deterministic randomness

/// SplitMix64: small, fast, and the same sequence on every platform.
struct FuzzRNG: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

// MARK: - Seed documents

struct FuzzSeed: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    var testDescription: String { name }

    /// The base policy of PolicyDecoderTests and every policies/examples/*.json.
    static let all: [FuzzSeed] = {
        var seeds = [FuzzSeed(name: "base", text: DecoderFixture.baseJSON)]
        for url in exampleFiles {
            seeds.append(FuzzSeed(name: url.lastPathComponent, text: (try? String(contentsOf: url, encoding: .utf8)) ?? ""))
        }
        return seeds
    }()

    static var exampleFiles: [URL] {
        // Tests/PolicyModelTests/FuzzTests.swift -> the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = root.appendingPathComponent("policies/examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// A number for the RNG that depends only on the name.
    var seed: UInt64 {
        name.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }  // FNV-1a
    }
}

extension FuzzTests {
    @Test func seedsAreThereAndValid() throws {
        #expect(FuzzSeed.exampleFiles.count == 3, "\(FuzzSeed.exampleFiles)")
        for seed in FuzzSeed.all {
            #expect(!seed.text.isEmpty, "\(seed.name)")
            let policy = try PolicyDecoder.decode(json: seed.text).get()
            #expect(PolicyDecoder.decode(PolicyEncoder.encode(policy)) == .success(policy), "\(seed.name)")
        }
    }
}

// MARK: - Byte-level mutations

enum ByteMutator {
    /// Bytes and fragments that matter to the JSON grammar and to the
    /// decoder: structure, escapes, literals, odd numbers, a BOM, invalid
    /// and multi-byte UTF-8, a NUL.
    static let fragments: [[UInt8]] = [
        "{", "}", "[", "]", "\"", ",", ":", "\\", "-", "0", "9", ".", "e", " ", "\n", "/", "*",
        "null", "true", "false", "1e999", "-0", "123456789012345678901234567890", "0.5", "\\u0000", "\\ud800",
        "\"name\": ", "\"version\": 2, ", "\"ports\": \"0\", ", "é", "😀", "\u{FEFF}",
        "{\"a\": [[[[[[[[", "]]]]]]]]}",
    ].map { Array($0.utf8) } + [[0x00], [0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x7F]]

    static func mutate(_ bytes: inout [UInt8], using rng: inout FuzzRNG) {
        func position(_ inclusiveEnd: Bool = false) -> Int {
            Int.random(in: 0...(inclusiveEnd ? bytes.count : max(0, bytes.count - 1)), using: &rng)
        }
        func range(maxLength: Int) -> Range<Int> {
            let start = position()
            let length = Int.random(in: 1...maxLength, using: &rng)
            return start..<min(bytes.count, start + length)
        }
        guard !bytes.isEmpty else {
            bytes = rng.pick(fragments)
            return
        }
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:  // flip one bit
            let i = position()
            bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        case 1:  // delete a slice
            bytes.removeSubrange(range(maxLength: rng.chance(80) ? 8 : 400))
        case 2:  // insert a fragment
            bytes.insert(contentsOf: rng.pick(fragments), at: position(true))
        case 3:  // duplicate a slice somewhere else
            let slice = Array(bytes[range(maxLength: rng.chance(80) ? 16 : 600)])
            bytes.insert(contentsOf: slice, at: position(true))
        case 4:  // truncate
            bytes.removeSubrange(position()...)
        case 5:  // overwrite one byte with a random one
            bytes[position()] = UInt8.random(in: 0...255, using: &rng)
        default:  // change one digit, which keeps the syntax and changes the meaning
            let digits = bytes.indices.filter { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }
            if let i = digits.isEmpty ? nil : rng.pick(digits) {
                bytes[i] = UInt8.random(in: 0x30...0x39, using: &rng)
            }
        }
    }
}

// MARK: - Tree-level mutations

/// A node of a tree by position: member index in an object, element index
/// in an array (so duplicate keys are addressable too).
typealias FuzzPath = [Int]

enum TreeMutator {
    /// One node of a tree: where, what, and the key when it is a member.
    struct Entry {
        let path: FuzzPath
        let value: JSONValue
        let key: String?

        var isString: Bool { if case .string = value { true } else { false } }
        var isArray: Bool { if case .array = value { true } else { false } }
    }

    /// Every node, in one walk.
    static func entries(_ value: JSONValue) -> [Entry] {
        var out: [Entry] = []
        func walk(_ value: JSONValue, _ path: FuzzPath, _ key: String?) {
            out.append(Entry(path: path, value: value, key: key))
            switch value {
            case .object(let members):
                for (i, member) in members.enumerated() { walk(member.value, path + [i], member.key) }
            case .array(let elements):
                for (i, element) in elements.enumerated() { walk(element, path + [i], nil) }
            default:
                break
            }
        }
        walk(value, [], nil)
        return out
    }

    /// The tree with the node at `path` replaced by `change(node)`.
    static func edit(_ value: JSONValue, at path: FuzzPath, _ change: (JSONValue) -> JSONValue) -> JSONValue {
        edit(value, path[...], change)
    }

    private static func edit(_ value: JSONValue, _ path: ArraySlice<Int>, _ change: (JSONValue) -> JSONValue) -> JSONValue {
        guard let first = path.first else { return change(value) }
        switch value {
        case .object(var members):
            members[first].value = edit(members[first].value, path.dropFirst(), change)
            return .object(members)
        case .array(var elements):
            elements[first] = edit(elements[first], path.dropFirst(), change)
            return .array(elements)
        default:
            fatalError("bad path")
        }
    }

    static let numbers = [
        "0", "-0", "1", "-1", "2", "255", "256", "4094", "4095", "65535", "65536", "16777215", "16777216",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
        "1e999", "-1e-999", "1.5", "1.0", "1E2", "0.0000001",
    ]

    static let strings = [
        "", " ", "web", "wbe", "blue", "hv1", "hv2", "tcp", "icmp", "any", "ingress", "egress", "ipv4", "ipv6",
        "vlan", "vxlan", "0", "80", "65536", "90-80", "1-65535", "abc", "10.1.0.0/24", "10.1.0.1/24", "::/0",
        "0.0.0.0/0", "10.1.0.11", "fd00:1::11", "::ffff:10.1.0.11", "fe80::1%eth0", "52:54:00:00:01:01",
        "01:00:5e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "tap-0123456789ab", "eth1", "..",
        "wéb", "名前", "😀", "e\u{301}", "\u{202E}evil", "a\u{0}b", "tab\there", "line\nbreak", "\u{FEFF}bom",
        "\u{7F}", "\u{85}", "\u{2028}", "quote\"d", "back\\slash",
    ]

    static func randomScalar(using rng: inout FuzzRNG) -> JSONValue {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return .null
        case 1: return .bool(rng.chance(50))
        case 2: return .number(JSONNumber(rng.pick(numbers))!)
        default: return .string(rng.pick(strings))
        }
    }

    /// A value of another type than `value` (or another value of the same).
    static func otherValue(than value: JSONValue, using rng: inout FuzzRNG) -> JSONValue {
        for _ in 0..<8 {
            let candidate: JSONValue
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: candidate = .array([])
            case 1: candidate = .object([])
            case 2: candidate = .array([value])
            case 3: candidate = .object([JSONMember(key: "name", value: value)])
            default: candidate = randomScalar(using: &rng)
            }
            if candidate.typeName != value.typeName || rng.chance(20) { return candidate }
        }
        return .null
    }

    static func longString(using rng: inout FuzzRNG) -> String {
        let unit = rng.pick(["a", "é", "😀", "web-", "1"])
        return String(repeating: unit, count: Int.random(in: 64...2_000, using: &rng))
    }

    /// A typo: a letter dropped, doubled, two swapped, or the case changed.
    static func typo(_ text: String, using rng: inout FuzzRNG) -> String {
        var chars = Array(text)
        guard !chars.isEmpty else { return "x" }
        let i = Int.random(in: 0..<chars.count, using: &rng)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: chars.remove(at: i)
        case 1: chars.insert(chars[i], at: i)
        case 2: if i + 1 < chars.count { chars.swapAt(i, i + 1) } else { chars.append("s") }
        default: chars[i] = Character(chars[i].isUppercase ? chars[i].lowercased() : chars[i].uppercased())
        }
        return String(chars)
    }

    static func mutate(_ tree: JSONValue, using rng: inout FuzzRNG) -> JSONValue {
        let all = entries(tree)
        let target = rng.pick(all).path
        let stringEntries = all.filter(\.isString)
        let strings = stringEntries.map(\.path)
        let names = stringEntries.filter { $0.key == "name" }.map(\.path)
        switch Int.random(in: 0..<12, using: &rng) {
        case 0:  // a value of another type
            return edit(tree, at: target) { otherValue(than: $0, using: &rng) }
        case 1:  // delete a member or an element
            guard let last = target.last else { return tree }
            return edit(tree, at: Array(target.dropLast())) { parent in
                switch parent {
                case .object(var members): members.remove(at: last); return .object(members)
                case .array(var elements): elements.remove(at: last); return .array(elements)
                default: return parent
                }
            }
        case 2:  // duplicate a member (same key) or an element
            guard let last = target.last else { return tree }
            return edit(tree, at: Array(target.dropLast())) { parent in
                switch parent {
                case .object(var members):
                    var copy = members[last]
                    if rng.chance(50) { copy.value = otherValue(than: copy.value, using: &rng) }
                    members.insert(copy, at: Int.random(in: 0...members.count, using: &rng))
                    return .object(members)
                case .array(var elements):
                    elements.insert(elements[last], at: Int.random(in: 0...elements.count, using: &rng))
                    return .array(elements)
                default: return parent
                }
            }
        case 3:  // swap two arrays (neither inside the other), or the order of one
            let arrays = all.filter(\.isArray)
            guard let a = arrays.isEmpty ? nil : rng.pick(arrays) else { return tree }
            let others = arrays.filter { !$0.path.starts(with: a.path) && !a.path.starts(with: $0.path) }
            if let b = others.isEmpty ? nil : rng.pick(others) {
                return edit(edit(tree, at: a.path) { _ in b.value }, at: b.path) { _ in a.value }
            }
            return edit(tree, at: a.path) { value in
                guard case .array(let elements) = value else { return value }
                return .array(elements.reversed())
            }
        case 4:  // an odd number
            return edit(tree, at: target) { _ in .number(JSONNumber(rng.pick(numbers))!) }
        case 5:  // deep nesting, sometimes beyond the parser's limit
            let depth = rng.chance(80) ? Int.random(in: 1...40, using: &rng) : Int.random(in: 250...400, using: &rng)
            return edit(tree, at: target) { value in
                var nested = value
                for k in 0..<depth { nested = k.isMultiple(of: 2) ? .array([nested]) : .object([JSONMember(key: "name", value: nested)]) }
                return nested
            }
        case 6:  // unicode, control characters and the like in a string (names most of all)
            guard let path = (names.isEmpty || rng.chance(30)) ? (strings.isEmpty ? nil : rng.pick(strings)) : rng.pick(names)
            else { return tree }
            return edit(tree, at: path) { value in
                guard case .string(let s) = value else { return value }
                let odd = rng.pick(["é", "😀", "\u{0}", "\u{202E}", "\u{301}", "名", "\u{FFFD}", "\u{10FFFF}", "\u{85}"])
                return .string(rng.chance(50) ? s + odd : odd + s)
            }
        case 7:  // a very long string
            guard let path = strings.isEmpty ? nil : rng.pick(strings) else { return tree }
            return edit(tree, at: path) { _ in .string(longString(using: &rng)) }
        case 8:  // a copy of another subtree (duplicate names, segments, MACs, ...)
            let source = rng.pick(all).value
            return edit(tree, at: target) { _ in source }
        case 9:  // a typo in a key
            let members = all.filter { $0.key != nil }
            guard let member = members.isEmpty ? nil : rng.pick(members).path, let last = member.last else { return tree }
            return edit(tree, at: Array(member.dropLast())) { parent in
                guard case .object(var members) = parent else { return parent }
                members[last].key = typo(members[last].key, using: &rng)
                return .object(members)
            }
        case 10:  // a typo in a string (a reference, an address, a range)
            guard let path = strings.isEmpty ? nil : rng.pick(strings) else { return tree }
            return edit(tree, at: path) { value in
                guard case .string(let s) = value else { return value }
                return .string(rng.chance(70) ? typo(s, using: &rng) : rng.pick(TreeMutator.strings))
            }
        default:  // a long name and a near miss of it elsewhere: "did you mean" must stay cheap
            guard names.count >= 1, strings.count >= 2 else { return tree }
            let long = longString(using: &rng)
            var result = edit(tree, at: rng.pick(names)) { _ in .string(long) }
            result = edit(result, at: rng.pick(strings)) { _ in .string(typo(long, using: &rng)) }
            return result
        }
    }
}

// MARK: - The properties

/// Collects property violations, with what is needed to reproduce them, and
/// stops recording after a few so one bug does not flood the output.
struct FuzzFindings {
    var issues: [String] = []
    var successes = 0
    var failures = 0

    mutating func record(_ text: String) {
        if issues.count < 10 { issues.append(text) }
    }
}

private func excerpt(_ text: String) -> String {
    text.utf8.count <= 600 ? text : String(decoding: Array(text.utf8.prefix(600)), as: UTF8.self) + "…"
}

/// Checks the decoder's promise for one result: a policy that survives
/// re-encoding, or at least one diagnostic, each with a message.
private func check(
    _ result: Result<Policy, PolicyError>, _ what: @autoclosure () -> String, _ findings: inout FuzzFindings
) {
    switch result {
    case .success(let policy):
        findings.successes += 1
        let encoded = PolicyEncoder.encode(policy)
        let again = PolicyDecoder.decode(encoded)
        if again != .success(policy) {
            findings.record("re-encoded policy does not decode to itself: \(again)\n\(excerpt(what()))")
        }
        if PolicyDecoder.decode(json: encoded.serialized()) != .success(policy) {
            findings.record("re-encoded policy text does not decode to itself\n\(excerpt(what()))")
        }
    case .failure(let error):
        findings.failures += 1
        if error.diagnostics.isEmpty {
            findings.record("failure without diagnostics\n\(excerpt(what()))")
        }
        for diagnostic in error.diagnostics where diagnostic.message.isEmpty {
            findings.record("empty message at \(diagnostic.path)\n\(excerpt(what()))")
        }
    }
}

private func depth(_ value: JSONValue) -> Int {
    switch value {
    case .array(let elements): 1 + (elements.map(depth).max() ?? 0)
    case .object(let members): 1 + (members.map { depth($0.value) }.max() ?? 0)
    default: 0
    }
}

private let documentsPerSeed = 1_250  // 5,000 in all over the four seeds

extension FuzzTests {
    @Test(arguments: FuzzSeed.all)
    func byteMutationsNeverCrash(_ seed: FuzzSeed) {
        var rng = FuzzRNG(seed: seed.seed)
        var findings = FuzzFindings()
        let original = Array(seed.text.utf8)
        for iteration in 0..<(documentsPerSeed / 2) {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) { ByteMutator.mutate(&bytes, using: &rng) }
            let result = PolicyDecoder.decode(json: bytes)
            check(result, "\(seed.name) byte iteration \(iteration):\n\(String(decoding: bytes, as: UTF8.self))", &findings)
            // Decoding is a function of the input.
            if iteration.isMultiple(of: 10), PolicyDecoder.decode(json: bytes) != result {
                findings.record("two decodings differ: \(seed.name) byte iteration \(iteration)")
            }
        }
        for issue in findings.issues { Issue.record(Comment(rawValue: issue)) }
        // Most mutations break something, but not all: both outcomes happen.
        #expect(findings.failures > documentsPerSeed / 4)
        #expect(findings.successes > 0)
    }
}

extension FuzzTests {
    @Test(arguments: FuzzSeed.all)
    func treeMutationsNeverCrash(_ seed: FuzzSeed) throws {
        var rng = FuzzRNG(seed: seed.seed ^ 0x5eed)
        var findings = FuzzFindings()
        let original = try JSONParser.parse(Array(seed.text.utf8))
        for iteration in 0..<(documentsPerSeed / 2) {
            var tree = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) { tree = TreeMutator.mutate(tree, using: &rng) }
            let result = PolicyDecoder.decode(tree)
            let text = tree.serialized()
            check(result, "\(seed.name) tree iteration \(iteration):\n\(text)", &findings)
            // The tree and its text are the same policy (unless the text is
            // nested too deeply for the parser, which is then the one problem).
            let fromText = PolicyDecoder.decode(json: text)
            if depth(tree) <= JSONParser.maximumDepth {
                if fromText != result { findings.record("tree and text decode differently\n\(excerpt(text))") }
            } else if fromText.failureMessages.first?.hasPrefix("invalid JSON") != true || fromText.failureMessages.count != 1 {
                findings.record("too deep a text was not one syntax error: \(fromText)")
            }
        }
        for issue in findings.issues { Issue.record(Comment(rawValue: issue)) }
        #expect(findings.failures > documentsPerSeed / 4)
        #expect(findings.successes > 0)
    }
}

extension FuzzTests {
    @Test(arguments: FuzzSeed.all)
    func mutatedDocumentsThroughYAML(_ seed: FuzzSeed) throws {
        var rng = FuzzRNG(seed: seed.seed ^ 0x7a41)
        var findings = FuzzFindings()
        var parsed = 0
        let original = try JSONParser.parse(Array(seed.text.utf8))
        for iteration in 0..<60 {
            // Half byte-mutated JSON text (JSON is nearly YAML), half block YAML
            // written from a mutated tree.
            let yaml: String
            var tree: JSONValue?
            if iteration.isMultiple(of: 2) {
                var bytes = Array(seed.text.utf8)
                for _ in 0..<Int.random(in: 1...2, using: &rng) { ByteMutator.mutate(&bytes, using: &rng) }
                yaml = String(decoding: bytes, as: UTF8.self)
            } else {
                var mutated = original
                for _ in 0..<Int.random(in: 1...2, using: &rng) { mutated = TreeMutator.mutate(mutated, using: &rng) }
                tree = mutated
                yaml = BlockYAML.write(mutated)
            }
            let document: JSONValue
            do {
                document = try YAMLReader.parse(yaml)
            } catch {
                if error.message.isEmpty { findings.record("YAML error without a message\n\(excerpt(yaml))") }
                continue
            }
            parsed += 1
            let result = PolicyDecoder.decode(document)
            check(result, "\(seed.name) YAML iteration \(iteration):\n\(yaml)", &findings)
            if let tree, document == tree, result != PolicyDecoder.decode(tree) {
                findings.record("YAML and JSON trees are equal but decode differently\n\(excerpt(yaml))")
            }
        }
        for issue in findings.issues { Issue.record(Comment(rawValue: issue)) }
        #expect(parsed > 10)
    }
}

extension FuzzTests {
    @Test func longNamesAndNearMissesStayFast() {
        // Edit distances for "did you mean" between long strings are quadratic;
        // names are at most 63 characters, so long ones get no suggestion.
        let long = String(repeating: "web-", count: 25_000)
        let result = decodeBaseForFuzz([
            .set("securityGroups[0].name", .string(long)),
            .set("ports[0].securityGroups[0]", .string(long + "x")),
            .set("ports[0].network", .string(String(long.dropFirst()))),
            .append("networks", DecoderFixture.json(#"{"name": "n", "segment": {"type": "vlan", "id": 9}}"#)),
            .set("networks[2].name", .string(long)),
        ])
        guard case .failure(let error) = result else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.map(\.path) == [
            "networks[2].name", "securityGroups[0].name", "securityGroups[0].rules[2].remote.group",
            "ports[0].network", "ports[0].securityGroups[0]",
        ], "\(error.diagnostics.map { ($0.path, $0.message.prefix(80)) })")
        #expect(error.diagnostics.allSatisfy { $0.message.utf8.count < 300 })
    }
}

private func decodeBaseForFuzz(_ edits: [PolicyEdit]) -> Result<Policy, PolicyError> {
    PolicyDecoder.decode(PolicyEdit.apply(edits, to: DecoderFixture.base))
}

extension Result where Success == Policy, Failure == PolicyError {
    /// The messages of the diagnostics, empty on success.
    var failureMessages: [String] {
        if case .failure(let error) = self { return error.diagnostics.map(\.message) }
        return []
    }
}
