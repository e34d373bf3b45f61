import Testing
@testable import PolicyModel

// Small tree builders, private to this file.
private func num(_ text: String) -> JSONValue { .number(JSONNumber(text)!) }
private func str(_ s: String) -> JSONValue { .string(s) }
private func arr(_ elements: JSONValue...) -> JSONValue { .array(elements) }
private func obj(_ members: (String, JSONValue)...) -> JSONValue {
    .object(members.map { JSONMember(key: $0.0, value: $0.1) })
}

// MARK: - Valid documents

struct ValidCase: Sendable, CustomTestStringConvertible {
    let text: String
    let tree: JSONValue
    init(_ text: String, _ tree: JSONValue) {
        self.text = text
        self.tree = tree
    }
    var testDescription: String { text.debugDescription }
}

private let validCases: [ValidCase] = [
    ValidCase("null", .null),
    ValidCase("true", .bool(true)),
    ValidCase("false", .bool(false)),
    ValidCase("0", num("0")),
    ValidCase("-0", num("-0")),
    ValidCase("123", num("123")),
    ValidCase("-1.5e3", num("-1.5e3")),
    ValidCase("1E+2", num("1E+2")),
    ValidCase("0.0001", num("0.0001")),
    ValidCase("2.50", num("2.50")),
    ValidCase("123456789012345678901234567890", num("123456789012345678901234567890")),
    ValidCase(" \t\r\n 42 \r\n\t ", num("42")),
    ValidCase(#""""#, str("")),
    ValidCase(#""hello world""#, str("hello world")),
    ValidCase(#""\"\\\/\b\f\n\r\t""#, str("\"\\/\u{8}\u{C}\n\r\t")),
    ValidCase(#""a\u00e9b\u20AC""#, str("aéb€")),
    ValidCase(#""\uD83D\uDE00""#, str("😀")),
    ValidCase(#""\u0000""#, str("\u{0}")),
    ValidCase("\"é😀ü\"", str("é😀ü")),
    ValidCase(#""x\n\u00e9y\"z""#, str("x\néy\"z")),
    ValidCase("\"\u{7F}\"", str("\u{7F}")),  // DEL is not a control character in JSON
    ValidCase("[]", arr()),
    ValidCase("{}", obj()),
    ValidCase("[ ]", arr()),
    ValidCase("{ \n }", obj()),
    ValidCase("[1,[2,[]],{}]", arr(num("1"), arr(num("2"), arr()), obj())),
    ValidCase(#"{"b":1,"a":2}"#, obj(("b", num("1")), ("a", num("2")))),
    ValidCase(#"{"a":1,"a":2}"#, obj(("a", num("1")), ("a", num("2")))),
    ValidCase(#"{"a":1,"b":{"x":true,"x":false},"a":null}"#,
              obj(("a", num("1")), ("b", obj(("x", .bool(true)), ("x", .bool(false)))), ("a", .null))),
    ValidCase("\u{FEFF}{\"a\":true}", obj(("a", .bool(true)))),
    ValidCase("""
        {
          "name": "web",
          "rules": [
            {"protocol": "tcp", "ports": [80, 443], "cidr": "10.0.0.0/8"},
            {"protocol": "udp", "ports": [53], "cidr": null}
          ]
        }
        """,
        obj(("name", str("web")),
            ("rules", arr(
                obj(("protocol", str("tcp")), ("ports", arr(num("80"), num("443"))), ("cidr", str("10.0.0.0/8"))),
                obj(("protocol", str("udp")), ("ports", arr(num("53"))), ("cidr", .null)))))),
]

@Test(arguments: validCases)
func parsesValidDocument(_ c: ValidCase) throws {
    #expect(try JSONParser.parse(c.text) == c.tree)
    #expect(try JSONParser.parse(Array(c.text.utf8)) == c.tree)
}

@Test(arguments: validCases)
func validDocumentRoundTrips(_ c: ValidCase) throws {
    let tree = try JSONParser.parse(c.text)
    #expect(try JSONParser.parse(tree.serialized()) == tree)
    #expect(try JSONParser.parse(tree.serialized(pretty: true)) == tree)
}

@Test func parsesNonContiguousCollection() throws {
    let bytes = Array(#"{"a":[1,"x"]}"#.utf8).lazy.map { $0 }
    #expect(try JSONParser.parse(bytes) == obj(("a", arr(num("1"), str("x")))))
}

@Test func duplicateKeysAreKeptInOrder() throws {
    let tree = try JSONParser.parse(#"{"port": 80, "proto": "tcp", "port": 443}"#)
    guard case .object(let members) = tree else {
        Issue.record("not an object")
        return
    }
    #expect(members.map(\.key) == ["port", "proto", "port"])
    #expect(members.map(\.value) == [num("80"), str("tcp"), num("443")])
}

// MARK: - Invalid documents

struct InvalidCase: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let line: Int
    let column: Int
    let message: String
    let label: String

    init(_ text: String, _ line: Int, _ column: Int, _ message: String) {
        self.init(bytes: Array(text.utf8), line, column, message, label: text.debugDescription)
    }

    init(bytes: [UInt8], _ line: Int, _ column: Int, _ message: String, label: String? = nil) {
        self.bytes = bytes
        self.line = line
        self.column = column
        self.message = message
        self.label = label ?? bytes.map { String($0, radix: 16) }.joined(separator: " ")
    }

    var testDescription: String { label }
}

private let invalidCases: [InvalidCase] = [
    // Empty input and surrounding content
    InvalidCase("", 1, 1, "unexpected end of input, expected a value"),
    InvalidCase("  \n  ", 2, 3, "unexpected end of input, expected a value"),
    InvalidCase("true false", 1, 6, "unexpected 'f' after the top-level value"),
    InvalidCase("{} {}", 1, 4, "unexpected '{' after the top-level value"),
    InvalidCase("1 2", 1, 3, "unexpected '2' after the top-level value"),
    // Literals
    InvalidCase("tru", 1, 1, "invalid literal, expected 'true'"),
    InvalidCase("[nul]", 1, 2, "invalid literal, expected 'null'"),
    InvalidCase("True", 1, 1, "expected a value, found 'T'"),
    InvalidCase("undefined", 1, 1, "expected a value, found 'u'"),
    InvalidCase("'a'", 1, 1, "strings must use double quotes"),
    // Trailing commas
    InvalidCase(#"{"a":1,}"#, 1, 8, "trailing comma in object"),
    InvalidCase("[1,2,]", 1, 6, "trailing comma in array"),
    InvalidCase("[1,\r\n]", 2, 1, "trailing comma in array"),
    InvalidCase("[,1]", 1, 2, "expected a value, found ','"),
    InvalidCase("{,}", 1, 2, "expected a string key or '}', found ','"),
    // Structure
    InvalidCase("[1 2]", 1, 4, "expected ',' or ']' after an array element, found '2'"),
    InvalidCase(#"{"a" 1}"#, 1, 6, "expected ':' after an object key, found '1'"),
    InvalidCase(#"{"a":1 "b":2}"#, 1, 8, "expected ',' or '}' after an object member, found '\"'"),
    InvalidCase(#"{"a":1,,"b":2}"#, 1, 8, "expected a string key after ',', found ','"),
    InvalidCase("{a:1}", 1, 2, "expected a string key or '}', found 'a'"),
    InvalidCase(#"{"a":}"#, 1, 6, "expected a value, found '}'"),
    InvalidCase("[1}", 1, 3, "expected ',' or ']' after an array element, found '}'"),
    InvalidCase("]", 1, 1, "expected a value, found ']'"),
    InvalidCase("[", 1, 2, "unexpected end of input, expected a value"),
    InvalidCase("[1", 1, 3, "unexpected end of input, expected ',' or ']' after an array element"),
    InvalidCase("{", 1, 2, "unexpected end of input, expected a string key or '}'"),
    InvalidCase(#"{"a""#, 1, 5, "unexpected end of input, expected ':' after an object key"),
    InvalidCase(#"{"a":1"#, 1, 7, "unexpected end of input, expected ',' or '}' after an object member"),
    InvalidCase("{\n  \"a\": 1,\n  \"b\" 2\n}", 3, 7, "expected ':' after an object key, found '2'"),
    // Comments
    InvalidCase("// c\n{}", 1, 1, "comments are not allowed in JSON"),
    InvalidCase("{\"a\":1 /* c */}", 1, 8, "comments are not allowed in JSON"),
    InvalidCase("[1,\n /*x*/ 2]", 2, 2, "comments are not allowed in JSON"),
    InvalidCase("{} // done", 1, 4, "unexpected '/' after the top-level value"),
    // Numbers
    InvalidCase("NaN", 1, 1, "NaN and Infinity are not valid JSON numbers"),
    InvalidCase("Infinity", 1, 1, "NaN and Infinity are not valid JSON numbers"),
    InvalidCase("-Infinity", 1, 1, "NaN and Infinity are not valid JSON numbers"),
    InvalidCase("[1, NaN]", 1, 5, "NaN and Infinity are not valid JSON numbers"),
    InvalidCase("01", 1, 1, "leading zeros are not allowed in numbers"),
    InvalidCase("-01", 1, 2, "leading zeros are not allowed in numbers"),
    InvalidCase(#"{"port": 0080}"#, 1, 10, "leading zeros are not allowed in numbers"),
    InvalidCase("+1", 1, 1, "numbers must not start with '+'"),
    InvalidCase(".5", 1, 1, "numbers must start with a digit, not '.'"),
    InvalidCase("[-.5]", 1, 3, "expected a digit after '-'"),
    InvalidCase("1.", 1, 3, "expected a digit after the decimal point"),
    InvalidCase("1.e5", 1, 3, "expected a digit after the decimal point"),
    InvalidCase("1e", 1, 3, "expected a digit in the exponent"),
    InvalidCase("1e+", 1, 4, "expected a digit in the exponent"),
    InvalidCase("-", 1, 2, "unexpected end of input, expected a digit after '-'"),
    InvalidCase("-a", 1, 2, "expected a digit after '-'"),
    InvalidCase("0x10", 1, 2, "unexpected 'x' after the top-level value"),
    // Strings
    InvalidCase(#""abc"#, 1, 1, "unterminated string"),
    InvalidCase("[\"a\\", 1, 2, "unterminated string"),
    InvalidCase(#""a\x""#, 1, 3, "invalid escape sequence '\\x' in string"),
    InvalidCase(#""\'""#, 1, 2, "invalid escape sequence '\\'' in string"),
    InvalidCase(#""\u12G4""#, 1, 2, "invalid \\u escape, expected 4 hex digits"),
    InvalidCase(#""\u12""#, 1, 2, "invalid \\u escape, expected 4 hex digits"),
    InvalidCase(#""\uD800""#, 1, 2, "unpaired high surrogate \\uD800 in string"),
    InvalidCase(#""\uD800\u0041""#, 1, 2, "unpaired high surrogate \\uD800 in string"),
    InvalidCase(#""x\uD83Dy""#, 1, 3, "unpaired high surrogate \\uD83D in string"),
    InvalidCase(#""\uDC00""#, 1, 2, "unpaired low surrogate \\uDC00 in string"),
    InvalidCase(#""\uDE00\uD83D""#, 1, 2, "unpaired low surrogate \\uDE00 in string"),
    InvalidCase("\"a\tb\"", 1, 3, "unescaped control character U+0009 in string"),
    InvalidCase("\"a\nb\"", 1, 3, "unescaped control character U+000A in string"),
    InvalidCase("[\"ok\",\n \"a\u{1}\"]", 2, 4, "unescaped control character U+0001 in string"),
    // Invalid UTF-8
    InvalidCase(bytes: [0x22, 0xC3, 0x28, 0x22], 1, 2, "invalid UTF-8 in string"),
    InvalidCase(bytes: [0x22, 0xC0, 0xAF, 0x22], 1, 2, "invalid UTF-8 in string", label: "overlong '/'"),
    InvalidCase(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], 1, 2, "invalid UTF-8 in string", label: "encoded surrogate"),
    InvalidCase(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1, 2, "invalid UTF-8 in string", label: "above U+10FFFF"),
    InvalidCase(bytes: [0x22, 0x61, 0xE2, 0x82], 1, 3, "invalid UTF-8 in string", label: "truncated at end"),
    InvalidCase(bytes: [0x22, 0x80, 0x22], 1, 2, "invalid UTF-8 in string", label: "lone continuation byte"),
    InvalidCase(bytes: [0x5B, 0xFF, 0x5D], 1, 2, "expected a value, found invalid UTF-8 byte 0xFF"),
    InvalidCase("[é]", 1, 2, "expected a value, found 'é' (U+00E9)"),
    // BOM handling: skipped at the start (and not counted), an error elsewhere
    InvalidCase(bytes: [0xEF, 0xBB, 0xBF] + Array("[1,]".utf8), 1, 4, "trailing comma in array", label: "BOM [1,]"),
    InvalidCase(bytes: [0xEF, 0xBB, 0xBF], 1, 1, "unexpected end of input, expected a value", label: "BOM only"),
    InvalidCase(" \u{FEFF}1", 1, 2, "expected a value, found '\u{FEFF}' (U+FEFF)"),
]

@Test(arguments: invalidCases)
func rejectsInvalidDocument(_ c: InvalidCase) {
    #expect(throws: JSONSyntaxError(line: c.line, column: c.column, message: c.message)) {
        try JSONParser.parse(c.bytes)
    }
    if let text = String(validating: c.bytes, as: UTF8.self) {
        #expect(throws: JSONSyntaxError(line: c.line, column: c.column, message: c.message)) {
            try JSONParser.parse(text)
        }
    }
}

@Test func errorDescription() {
    let error = JSONSyntaxError(line: 3, column: 14, message: "expected ',' or '}' after an object member")
    #expect(error.description == "line 3, column 14: expected ',' or '}' after an object member")
}

// MARK: - Nesting depth

@Test func nestingUpTo256LevelsIsAllowed() throws {
    let arrays = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
    var tree = try JSONParser.parse(arrays)
    var depth = 0
    while case .array(let elements) = tree {
        depth += 1
        tree = elements.first ?? .null
    }
    #expect(depth == 256)

    let objects = String(repeating: #"{"a":"#, count: 255) + "[]" + String(repeating: "}", count: 255)
    _ = try JSONParser.parse(objects)
}

struct DeepCase: Sendable, CustomTestStringConvertible {
    let text: String
    /// Column of the bracket that opens level 257.
    let column: Int
    var testDescription: String { String(text.prefix(12)) + "… (\(text.utf8.count) bytes)" }
}

private let deepCases: [DeepCase] = [
    DeepCase(text: String(repeating: "[", count: 257) + String(repeating: "]", count: 257), column: 257),
    DeepCase(text: String(repeating: "[", count: 100_000), column: 257),
    DeepCase(text: String(repeating: #"{"a":"#, count: 300), column: 5 * 256 + 1),
    DeepCase(text: "[" + String(repeating: #"{"k":["#, count: 128), column: 1 + 6 * 127 + 5 + 1),
]

@Test(arguments: deepCases)
func nestingDeeperThan256LevelsIsRejected(_ c: DeepCase) {
    #expect(throws: JSONSyntaxError(line: 1, column: c.column, message: "nesting deeper than 256 levels")) {
        try JSONParser.parse(c.text)
    }
}

// MARK: - Numbers

@Test(arguments: ["0", "-0", "1", "-1", "10", "1.5", "-0.0", "1e5", "1E-5", "1.25e+10", "123456789012345678901234567890"])
func validNumberLexemes(_ text: String) {
    #expect(JSONNumber(text)?.text == text)
}

@Test(arguments: ["", "-", "+1", "01", "-01", ".5", "1.", "1e", "1e+", "0x1", "NaN", "Infinity", " 1", "1 ", "1_000", "١"])
func invalidNumberLexemes(_ text: String) {
    #expect(JSONNumber(text) == nil)
}

@Test func numberValues() {
    #expect(JSONNumber("100")?.integerValue == 100)
    #expect(JSONNumber("-0")?.integerValue == 0)
    #expect(JSONNumber("-9223372036854775808")?.integerValue == Int.min)
    #expect(JSONNumber("9223372036854775808")?.integerValue == nil)
    #expect(JSONNumber("1.0")?.integerValue == nil)
    #expect(JSONNumber("1e2")?.integerValue == nil)
    #expect(JSONNumber("-1.5e3")?.doubleValue == -1500)
    #expect(JSONNumber("1e400")?.doubleValue == .infinity)
    #expect(JSONNumber(42).text == "42")
    #expect(JSONNumber(-7).integerValue == -7)
    #expect(JSONNumber("2.5")?.description == "2.5")
    #expect(JSONNumber("1.0") != JSONNumber("1"))
}

// MARK: - Serialization

@Test func typeNames() {
    #expect(JSONValue.null.typeName == "null")
    #expect(JSONValue.bool(true).typeName == "boolean")
    #expect(num("1").typeName == "number")
    #expect(str("x").typeName == "string")
    #expect(arr().typeName == "array")
    #expect(obj().typeName == "object")
}

private let sampleTree = obj(
    ("name", str("web \"frontend\"")),
    ("ports", arr(num("80"), num("443"), num("-1.5e3"))),
    ("empty", obj()),
    ("none", arr()),
    ("nested", obj(("ok", .bool(true)), ("ok", .null))))

@Test func compactSerialization() {
    #expect(sampleTree.serialized() ==
        #"{"name":"web \"frontend\"","ports":[80,443,-1.5e3],"empty":{},"none":[],"nested":{"ok":true,"ok":null}}"#)
}

@Test func prettySerialization() {
    #expect(sampleTree.serialized(pretty: true) == """
        {
          "name": "web \\"frontend\\"",
          "ports": [
            80,
            443,
            -1.5e3
          ],
          "empty": {},
          "none": [],
          "nested": {
            "ok": true,
            "ok": null
          }
        }
        """)
    #expect(num("1").serialized(pretty: true) == "1")
    #expect(arr(arr()).serialized(pretty: true) == "[\n  []\n]")
}

@Test func stringEscaping() {
    #expect(str("a\"b\\c/d").serialized() == #""a\"b\\c/d""#)
    #expect(str("\n\t\r\u{0}\u{8}\u{C}\u{1F}").serialized() == #""\u000a\u0009\u000d\u0000\u0008\u000c\u001f""#)
    #expect(str("é€😀\u{7F}").serialized() == "\"é€😀\u{7F}\"")
    #expect(obj(("k\"\n", str("v"))).serialized() == #"{"k\"\u000a":"v"}"#)
}

private let roundTripTrees: [JSONValue] = [
    .null, .bool(false), num("0"), num("-1.25E-7"), str(""), str("\u{0}\u{1}\u{1F} \"\\/ é 😀 \u{FEFF}"),
    arr(), obj(), sampleTree,
    obj(("", str("empty key")), ("a", arr(obj(("a", obj(("a", arr(arr(arr()))))))))),
    arr(.null, .bool(true), num("1"), str("x"), arr(), obj(("dup", num("1")), ("dup", num("2")))),
]

@Test(arguments: roundTripTrees)
func serializationRoundTrips(_ tree: JSONValue) throws {
    #expect(try JSONParser.parse(tree.serialized()) == tree)
    #expect(try JSONParser.parse(tree.serialized(pretty: true)) == tree)
}

// MARK: - Size

@Test func parsesLargePolicy() throws {
    var text = #"{"groups":["#
    for k in 0..<50_000 {
        if k > 0 { text += "," }
        text += #"{"name":"rule-\#(k)","protocol":"tcp","port":\#(k % 65536),"cidr":"10.\#(k % 256).0.0/16","note":"caf\u00e9 \#(k)"}"#
    }
    text += "]}"
    let tree = try JSONParser.parse(text)
    guard case .object(let members) = tree, case .array(let groups)? = members.first?.value else {
        Issue.record("unexpected shape")
        return
    }
    #expect(groups.count == 50_000)
    #expect(groups[49_999] == obj(("name", str("rule-49999")), ("protocol", str("tcp")), ("port", num("49999")),
                                   ("cidr", str("10.79.0.0/16")), ("note", str("café 49999"))))
    #expect(try JSONParser.parse(tree.serialized()) == tree)
}
