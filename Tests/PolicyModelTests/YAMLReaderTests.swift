import Testing
import PolicyModel
import PolicyYAML

private func num(_ text: String) -> JSONValue { .number(JSONNumber(text)!) }
private func str(_ s: String) -> JSONValue { .string(s) }
private func arr(_ elements: JSONValue...) -> JSONValue { .array(elements) }
private func obj(_ members: (String, JSONValue)...) -> JSONValue {
    .object(members.map { JSONMember(key: $0.0, value: $0.1) })
}

// MARK: - Scalars

struct ScalarCase: Sendable, CustomTestStringConvertible {
    /// Written as the value of key `v`.
    let yaml: String
    let value: JSONValue
    init(_ yaml: String, _ value: JSONValue) {
        self.yaml = yaml
        self.value = value
    }
    var testDescription: String { yaml }
}

private let scalarCases: [ScalarCase] = [
    // null
    ScalarCase("", .null),
    ScalarCase("~", .null),
    ScalarCase("null", .null),
    ScalarCase("Null", .null),
    ScalarCase("NULL", .null),
    ScalarCase("nULL", str("nULL")),
    // bool (YAML 1.2: only true/false)
    ScalarCase("true", .bool(true)),
    ScalarCase("True", .bool(true)),
    ScalarCase("TRUE", .bool(true)),
    ScalarCase("false", .bool(false)),
    ScalarCase("False", .bool(false)),
    ScalarCase("FALSE", .bool(false)),
    ScalarCase("yes", str("yes")),
    ScalarCase("no", str("no")),
    ScalarCase("on", str("on")),
    ScalarCase("Off", str("Off")),
    ScalarCase("tRUE", str("tRUE")),
    // integers
    ScalarCase("0", num("0")),
    ScalarCase("80", num("80")),
    ScalarCase("-12", num("-12")),
    ScalarCase("+12", num("12")),
    ScalarCase("-0", num("-0")),
    ScalarCase("007", num("7")),
    ScalarCase("0755", num("755")),
    ScalarCase("00", num("0")),
    ScalarCase("0o17", num("15")),
    ScalarCase("0x10", num("16")),
    ScalarCase("0xFFff", num("65535")),
    ScalarCase("0xFFFFFFFFFFFFFFFFFFFF", num("1208925819614629174706175")),
    ScalarCase("123456789012345678901234567890", num("123456789012345678901234567890")),
    ScalarCase("0x", str("0x")),
    ScalarCase("0xG1", str("0xG1")),
    ScalarCase("0o8", str("0o8")),
    ScalarCase("-0x10", str("-0x10")),
    ScalarCase("0b101", str("0b101")),
    ScalarCase("1_000", str("1_000")),
    ScalarCase("12:30", str("12:30")),
    // floats
    ScalarCase("1.0", num("1.0")),
    ScalarCase("1.50", num("1.50")),
    ScalarCase("-2.5", num("-2.5")),
    ScalarCase("+2.5", num("2.5")),
    ScalarCase("1.", num("1.0")),
    ScalarCase(".5", num("0.5")),
    ScalarCase("-.5", num("-0.5")),
    ScalarCase("1e3", num("1e3")),
    ScalarCase("1.5E-3", num("1.5E-3")),
    ScalarCase("2E+10", num("2E+10")),
    ScalarCase("007.5", num("7.5")),
    ScalarCase(".5e2", num("0.5e2")),
    ScalarCase("1e", str("1e")),
    ScalarCase(".", str(".")),
    ScalarCase("+", str("+")),
    ScalarCase("-a", str("-a")),
    ScalarCase("1.2.3", str("1.2.3")),
    ScalarCase(".inf", str(".inf")),
    ScalarCase("-.Inf", str("-.Inf")),
    ScalarCase(".nan", str(".nan")),
    // strings
    ScalarCase("hello world", str("hello world")),
    ScalarCase("10.0.0.0/8", str("10.0.0.0/8")),
    ScalarCase("2001-12-14", str("2001-12-14")),
    ScalarCase("=", str("=")),
    ScalarCase("café", str("café")),
    // quoted scalars are always strings
    ScalarCase(#""123""#, str("123")),
    ScalarCase("'123'", str("123")),
    ScalarCase(#""true""#, str("true")),
    ScalarCase("'null'", str("null")),
    ScalarCase(#""""#, str("")),
    ScalarCase("''", str("")),
    ScalarCase(#""0x10""#, str("0x10")),
    ScalarCase(#""a\tb\u00e9""#, str("a\tbé")),
    ScalarCase("'it''s'", str("it's")),
    // block scalars are strings
    ScalarCase("|\n  80\n", str("80\n")),
    ScalarCase(">-\n  true\n  false\n", str("true false")),
    // explicit tags
    ScalarCase("!!str 123", str("123")),
    ScalarCase("!!str", str("")),
    ScalarCase("! 12", str("12")),
    ScalarCase(#"!!int "42""#, num("42")),
    ScalarCase("!!int 0x1F", num("31")),
    ScalarCase("!!float 1", num("1")),
    ScalarCase("!!float '2.5'", num("2.5")),
    ScalarCase("!!bool 'true'", .bool(true)),
    ScalarCase("!!null ''", .null),
    ScalarCase("!<tag:yaml.org,2002:int> 7", num("7")),
]

@Test(arguments: scalarCases)
func resolvesScalar(_ c: ScalarCase) throws {
    #expect(try YAMLReader.parse("v: \(c.yaml)") == obj(("v", c.value)))
}

@Test(arguments: scalarCases)
func resolvesScalarInSequence(_ c: ScalarCase) throws {
    guard !c.yaml.contains("\n") else { return }  // block scalars need their own indentation
    #expect(try YAMLReader.parse("- \(c.yaml)") == arr(c.value))
}

@Test func topLevelScalars() throws {
    #expect(try YAMLReader.parse("42") == num("42"))
    #expect(try YAMLReader.parse("~") == .null)
    #expect(try YAMLReader.parse("--- 'x'\n") == str("x"))
    #expect(try YAMLReader.parse("--- text\n...\n") == str("text"))
}

struct BadTagCase: Sendable, CustomTestStringConvertible {
    let yaml: String
    let message: String
    var testDescription: String { yaml }
}

@Test(arguments: [
    BadTagCase(yaml: "v: !!int abc", message: "'abc' is not a valid !!int value"),
    BadTagCase(yaml: "v: !!int 1.5", message: "'1.5' is not a valid !!int value"),
    BadTagCase(yaml: "v: !!bool yes", message: "'yes' is not a valid !!bool value"),
    BadTagCase(yaml: "v: !!float .inf", message: "'.inf' is not a valid !!float value"),
    BadTagCase(yaml: "v: !!null 0", message: "'0' is not a valid !!null value"),
    BadTagCase(yaml: "v: !custom x", message: "unsupported tag '!custom'"),
    BadTagCase(yaml: "v: !!binary aGVsbG8=", message: "unsupported tag 'tag:yaml.org,2002:binary'"),
    BadTagCase(yaml: "v: !!timestamp 2001-12-14", message: "unsupported tag 'tag:yaml.org,2002:timestamp'"),
    BadTagCase(yaml: "v: !!set {a, b}", message: "unsupported tag 'tag:yaml.org,2002:set'"),
    BadTagCase(yaml: "v: !thing [1]", message: "unsupported tag '!thing'"),
])
func rejectsBadTags(_ c: BadTagCase) {
    #expect(throws: YAMLSyntaxError(line: 1, column: 4, message: c.message)) {
        try YAMLReader.parse(c.yaml)
    }
}

@Test func standardCollectionTagsAreAccepted() throws {
    #expect(try YAMLReader.parse("!!map {a: !!seq [1]}") == obj(("a", arr(num("1")))))
}

// MARK: - Structure

@Test func blockStructureMatchesJSON() throws {
    let yaml = """
        # a policy
        name: web
        rules:
          - protocol: tcp
            ports: [80, 443]
            cidr: 10.0.0.0/8
          - protocol: udp
            ports:
              - 53
            cidr: null
        empty_map: {}
        empty_list: []
        """
    let json = """
        {"name": "web",
         "rules": [{"protocol": "tcp", "ports": [80, 443], "cidr": "10.0.0.0/8"},
                   {"protocol": "udp", "ports": [53], "cidr": null}],
         "empty_map": {}, "empty_list": []}
        """
    #expect(try YAMLReader.parse(yaml) == JSONParser.parse(json))
}

@Test func keysKeepDocumentOrder() throws {
    let tree = try YAMLReader.parse("zeta: 1\nalpha: 2\nmid: 3\n")
    #expect(tree == obj(("zeta", num("1")), ("alpha", num("2")), ("mid", num("3"))))
}

@Test(arguments: [
    #"{"a": [1, 2.5, -3e2, true, false, null, "x\u00e9", {"b": {}}], "c": ""}"#,
    #"[{"port": 80, "proto": "tcp"}, {"port": 443, "proto": "tcp"}]"#,
    #"{"k": "line\nbreak \"quoted\" \\ back"}"#,
])
func jsonIsReadAsYAML(_ json: String) throws {
    #expect(try YAMLReader.parse(json) == JSONParser.parse(json))
}

@Test func scalarKeysBecomeTheirText() throws {
    let tree = try YAMLReader.parse("80: http\n0x10: hex\ntrue: yes\n~: tilde\n'quoted': q\n1.0: f\n")
    #expect(tree == obj(("80", str("http")), ("0x10", str("hex")), ("true", str("yes")), ("~", str("tilde")),
                        ("quoted", str("q")), ("1.0", str("f"))))
}

// MARK: - Duplicate keys

struct DuplicateCase: Sendable, CustomTestStringConvertible {
    let yaml: String
    let line: Int
    let column: Int
    let message: String
    var testDescription: String { yaml }
}

// Yams' composer rejects keys it considers equal (same text and same
// resolved tag); the error points at the first occurrence.
@Test(arguments: [
    DuplicateCase(yaml: "a: 1\na: 2\n", line: 1, column: 1,
                  message: "duplicate key 'a' in mapping (position of its first occurrence)"),
    DuplicateCase(yaml: "a: 1\n\"a\": 2\n", line: 1, column: 1,
                  message: "duplicate key 'a' in mapping (position of its first occurrence)"),
    DuplicateCase(yaml: "'a': 1\nb: 2\na: 3\n", line: 1, column: 1,
                  message: "duplicate key 'a' in mapping (position of its first occurrence)"),
    DuplicateCase(yaml: "x: 0\n1: a\n\"1\": b\n", line: 2, column: 1,
                  message: "duplicate key '1' in mapping (position of its first occurrence)"),
    DuplicateCase(yaml: "true: a\nTrue: b\ntrue: c\n", line: 1, column: 1,
                  message: "duplicate key 'true' in mapping (position of its first occurrence)"),
    DuplicateCase(yaml: "top:\n  x: 1\n  port: 80\n  port: 443\n", line: 3, column: 3,
                  message: "duplicate key 'port' in mapping (position of its first occurrence)"),
    DuplicateCase(yaml: "{b: 1, a: 2, b: 3, a: 4}", line: 1, column: 8,
                  message: "duplicate keys 'a', 'b' in mapping (position of the first occurrence of the first)"),
    DuplicateCase(yaml: "- {p: 1}\n- {q: 1, q: 2}\n", line: 2, column: 4,
                  message: "duplicate key 'q' in mapping (position of its first occurrence)"),
])
func duplicateKeysAreRejected(_ c: DuplicateCase) {
    #expect(throws: YAMLSyntaxError(line: c.line, column: c.column, message: c.message)) {
        try YAMLReader.parse(c.yaml)
    }
}

@Test func keysThatYamsDoesNotConsiderEqualAreKeptAsDuplicates() throws {
    // Yams compares keys by text and tag. Differently tagged keys get past
    // it; both are the key "1" in the JSON tree, kept for the decoder to
    // report, as with JSON.
    let tree = try YAMLReader.parse("!!int 1: a\n1: b\n")
    #expect(tree == obj(("1", str("a")), ("1", str("b"))))
}

// MARK: - Anchors and aliases

@Test func aliasesAreResolved() throws {
    let yaml = """
        base: &web
          protocol: tcp
          ports: &ports [80, 443]
        copy: *web
        ports_again: *ports
        name: &n frontend
        names: [*n, *n]
        """
    let web = obj(("protocol", str("tcp")), ("ports", arr(num("80"), num("443"))))
    #expect(try YAMLReader.parse(yaml) == obj(
        ("base", web), ("copy", web), ("ports_again", arr(num("80"), num("443"))),
        ("name", str("frontend")), ("names", arr(str("frontend"), str("frontend")))))
}

@Test func aliasKeepsScalarResolution() throws {
    #expect(try YAMLReader.parse("a: &x 0x10\nb: *x\nc: &y '0x10'\nd: *y\n")
            == obj(("a", num("16")), ("b", num("16")), ("c", str("0x10")), ("d", str("0x10"))))
}

@Test func redefinedAnchorUsesLatestDefinition() throws {
    #expect(try YAMLReader.parse("- &a 1\n- *a\n- &a 2\n- *a\n") == arr(num("1"), num("1"), num("2"), num("2")))
}

@Test func aliasBombIsRejected() {
    var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for k in 1...7 {
        yaml += "a\(k): &a\(k) [" + Array(repeating: "*a\(k - 1)", count: 10).joined(separator: ", ") + "]\n"
    }
    #expect(throws: YAMLSyntaxError.self) {
        try YAMLReader.parse(yaml)
    }
    do {
        _ = try YAMLReader.parse(yaml)
    } catch {
        #expect(error.message == "document too large after alias expansion")
    }
}

// MARK: - Errors

struct ErrorCase: Sendable, CustomTestStringConvertible {
    let yaml: String
    let line: Int?
    let column: Int?
    /// A substring of the message.
    let message: String
    var testDescription: String { yaml.debugDescription }
}

@Test(arguments: [
    ErrorCase(yaml: "", line: nil, column: nil, message: "empty document"),
    ErrorCase(yaml: "\n\n", line: nil, column: nil, message: "empty document"),
    ErrorCase(yaml: "# only a comment\n", line: nil, column: nil, message: "empty document"),
    ErrorCase(yaml: "---\n", line: 2, column: 1, message: "empty document"),
    ErrorCase(yaml: "--- \n...\n", line: 2, column: 1, message: "empty document"),
    ErrorCase(yaml: "a: 1\n---\nb: 2\n", line: 2, column: 1,
              message: "expected a single document, but found another document"),
    ErrorCase(yaml: "--- 1\n--- 2\n", line: 2, column: 1,
              message: "expected a single document, but found another document"),
    ErrorCase(yaml: "? [a, b]\n: 1\n", line: 1, column: 3, message: "mapping keys must be scalars, found a sequence"),
    ErrorCase(yaml: "{a: 1}: 2\n", line: 1, column: 1, message: "mapping keys must be scalars, found a mapping"),
    ErrorCase(yaml: "base: &b {port: 80}\nweb:\n  <<: *b\n  name: x\n", line: 3, column: 3,
              message: "merge keys ('<<') are not supported"),
    ErrorCase(yaml: "a: *nowhere\n", line: 1, column: 4, message: "found undefined alias"),
    ErrorCase(yaml: "a: [1, 2\n", line: 2, column: 1, message: "did not find expected ',' or ']'"),
    ErrorCase(yaml: "a: 1\n b: 2\n", line: 2, column: 3, message: "mapping values are not allowed in this context"),
    ErrorCase(yaml: "a:\n  b: 1\n c: 2\n", line: 3, column: 2, message: "did not find expected key"),
    ErrorCase(yaml: "a: \"unterminated\n", line: 2, column: 1, message: "found unexpected end of stream"),
    ErrorCase(yaml: "a:\n\t- 1\n", line: 2, column: 1, message: "found character that cannot start any token"),
    ErrorCase(yaml: "a: 'x'y\n", line: 1, column: 7, message: "did not find expected key"),
    ErrorCase(yaml: "a: b\u{1}c\n", line: 1, column: 5, message: "control characters are not allowed"),
])
func reportsErrors(_ c: ErrorCase) {
    do {
        let tree = try YAMLReader.parse(c.yaml)
        Issue.record("expected an error, got \(tree)")
    } catch {
        #expect(error.line == c.line)
        #expect(error.column == c.column)
        #expect(error.message.contains(c.message), "\(error.message)")
    }
}

@Test func nestingIsLimitedTo256Levels() throws {
    let ok = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
    _ = try YAMLReader.parse(ok)
    let deep = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
    #expect(throws: YAMLSyntaxError(line: 1, column: 257, message: "nesting deeper than 256 levels")) {
        try YAMLReader.parse(deep)
    }
    let deepBlock = (0..<300).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " 1\n"
    #expect(throws: YAMLSyntaxError(line: 257, column: 257, message: "nesting deeper than 256 levels")) {
        try YAMLReader.parse(deepBlock)
    }
}

@Test func errorDescriptions() {
    #expect(YAMLSyntaxError(line: 3, column: 14, message: "bad").description == "line 3, column 14: bad")
    #expect(YAMLSyntaxError(line: 3, column: nil, message: "bad").description == "line 3: bad")
    #expect(YAMLSyntaxError(line: nil, column: nil, message: "empty document").description == "empty document")
}
