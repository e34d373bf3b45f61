// A strict RFC 8259 JSON parser into an order-preserving tree.
//
// Foundation's JSONSerialization / JSONDecoder silently drop duplicate object
// keys, so policy files are parsed here instead: `JSONValue.object` keeps its
// members in document order, duplicates included, and the decoder reports them.
//
// Pure Swift: no Foundation.

// MARK: - Tree

/// A JSON document tree. Objects keep their members in document order,
/// including duplicate keys.
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// "object", "array", "string", "number", "boolean" or "null", for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Serializes compactly (no spaces) or, with `pretty`, with 2-space
    /// indentation and `"key": value`. Members are written in stored order
    /// (duplicates included). Strings are escaped per RFC 8259: control
    /// characters as `\uXXXX`, `"` and `\` escaped, `/` not escaped,
    /// non-ASCII written as UTF-8. No trailing newline.
    public func serialized(pretty: Bool = false) -> String {
        var writer = JSONWriter(pretty: pretty)
        writer.write(self, indent: 0)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

/// One member of a JSON object.
public struct JSONMember: Hashable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

// MARK: - Numbers

/// A JSON number, kept as the lexeme that was written (so "1.0" and "1"
/// are different values, and no precision is lost).
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible {
    /// The lexeme exactly as written, e.g. "100", "-1.5e3".
    public let text: String

    /// Validates the RFC 8259 number grammar:
    /// `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    public init?(_ text: String) {
        var copy = text
        let valid = copy.withUTF8 { buffer -> Bool in
            guard !buffer.isEmpty else { return false }
            switch JSONNumberScanner.scan(buffer, from: 0) {
            case .success(let end): return end == buffer.count
            case .failure: return false
            }
        }
        guard valid else { return nil }
        self.text = text
    }

    public init(_ value: Int) {
        self.text = String(value)
    }

    /// The caller guarantees that `text` is a valid lexeme.
    init(validatedText text: String) {
        self.text = text
    }

    /// Non-nil only when the lexeme has no fraction and no exponent and
    /// fits `Int`.
    public var integerValue: Int? {
        for byte in text.utf8 where byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            return nil
        }
        return Int(text)
    }

    /// The nearest `Double` (±infinity when out of range).
    public var doubleValue: Double {
        // The lexeme is always valid, and Swift's parser accepts the JSON
        // grammar; out-of-range magnitudes become ±infinity or ±0.
        Double(text) ?? .nan
    }

    public var description: String { text }
}

/// The number grammar, shared by the parser and `JSONNumber.init?`.
enum JSONNumberScanner {
    enum Failure: Error {
        /// (message, byte offset of the problem)
        case invalid(String, Int)
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// Scans a number starting at `start` (which holds '-' or a digit when
    /// called from the parser). Returns the offset one past the lexeme.
    static func scan(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> Result<Int, Failure> {
        let end = p.count
        var i = start
        if i < end && p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < end, isDigit(p[i]) else {
            if i < end && p[i] == UInt8(ascii: "I") {
                return .failure(.invalid("NaN and Infinity are not valid JSON numbers", start))
            }
            return .failure(.invalid(i < end ? "expected a digit after '-'" : "unexpected end of input, expected a digit after '-'", i))
        }
        if p[i] == UInt8(ascii: "0") {
            if i + 1 < end && isDigit(p[i + 1]) {
                return .failure(.invalid("leading zeros are not allowed in numbers", i))
            }
            i += 1
        } else {
            i += 1
            while i < end && isDigit(p[i]) { i += 1 }
        }
        if i < end && p[i] == UInt8(ascii: ".") {
            i += 1
            guard i < end, isDigit(p[i]) else {
                return .failure(.invalid("expected a digit after the decimal point", i))
            }
            i += 1
            while i < end && isDigit(p[i]) { i += 1 }
        }
        if i < end && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            i += 1
            if i < end && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < end, isDigit(p[i]) else {
                return .failure(.invalid("expected a digit in the exponent", i))
            }
            i += 1
            while i < end && isDigit(p[i]) { i += 1 }
        }
        return .success(i)
    }
}

// MARK: - Errors

/// A syntax error with its 1-based position. Columns count bytes; a leading
/// UTF-8 byte order mark is not counted. Lines are separated by LF.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// e.g. "expected ',' or '}' after an object member"
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// "line 3, column 14: <message>"
    public var description: String { "line \(line), column \(column): \(message)" }
}

// MARK: - Parser

/// Strict RFC 8259 parser: exactly one value with optional surrounding
/// whitespace (space, tab, CR, LF); no comments, trailing commas, NaN or
/// Infinity, leading zeros, '+' signs or bare fractions; only valid escapes
/// (surrogate pairs combined, lone surrogates rejected); no raw control
/// characters in strings; valid UTF-8 only. A leading UTF-8 BOM is skipped.
/// Nesting is limited to `maximumDepth` levels.
public enum JSONParser {
    /// Arrays and objects may nest this deep; one more level is an error.
    public static let maximumDepth = 256

    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            parseBuffer(buffer)
        }
        if let result { return try result.get() }
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { parseBuffer($0) }.get()
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var text = text
        return try text.withUTF8 { parseBuffer($0) }.get()
    }

    static func parseBuffer(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONSyntaxError> {
        var parser = ByteParser(buffer)
        do {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

private let quote = UInt8(ascii: "\"")
private let backslash = UInt8(ascii: "\\")

private struct ByteParser {
    let p: UnsafeBufferPointer<UInt8>
    let end: Int
    /// Where positions are counted from (3 when a BOM was skipped).
    let origin: Int
    var pos: Int

    init(_ buffer: UnsafeBufferPointer<UInt8>) {
        p = buffer
        end = buffer.count
        if end >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF {
            origin = 3
        } else {
            origin = 0
        }
        pos = origin
    }

    // MARK: Errors

    func error(_ message: String, at offset: Int) -> JSONSyntaxError {
        var line = 1
        var lineStart = origin
        var i = origin
        let stop = min(offset, end)
        while i < stop {
            if p[i] == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        return JSONSyntaxError(line: line, column: offset - lineStart + 1, message: message)
    }

    /// "expected X", or "unexpected end of input, expected X" at the end.
    func expected(_ what: String) -> JSONSyntaxError {
        if pos >= end {
            return error("unexpected end of input, expected \(what)", at: pos)
        }
        return error("expected \(what), found \(describeByte(at: pos))", at: pos)
    }

    /// A readable name for the character starting at `offset`.
    func describeByte(at offset: Int) -> String {
        let b = p[offset]
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        if b < 0x80 {
            return "control character U+\(hex(UInt32(b), width: 4))"
        }
        if let (scalar, _) = decodeUTF8(at: offset) {
            return "'\(Character(scalar))' (U+\(hex(scalar.value, width: 4)))"
        }
        return "invalid UTF-8 byte 0x\(hex(UInt32(b), width: 2))"
    }

    // MARK: Document

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if pos < end {
            throw error("unexpected \(describeByte(at: pos)) after the top-level value", at: pos)
        }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            switch p[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        skipWhitespace()
        guard pos < end else {
            throw error("unexpected end of input, expected a value", at: pos)
        }
        switch p[pos] {
        case quote:
            return .string(try parseString())
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            return .number(try parseNumber())
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return .null
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            if hasPrefix("NaN") || hasPrefix("Infinity") {
                throw error("NaN and Infinity are not valid JSON numbers", at: pos)
            }
        case UInt8(ascii: "+"):
            throw error("numbers must not start with '+'", at: pos)
        case UInt8(ascii: "."):
            throw error("numbers must start with a digit, not '.'", at: pos)
        case UInt8(ascii: "/"):
            throw error("comments are not allowed in JSON", at: pos)
        case UInt8(ascii: "'"):
            throw error("strings must use double quotes", at: pos)
        default:
            break
        }
        throw error("expected a value, found \(describeByte(at: pos))", at: pos)
    }

    func hasPrefix(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard end - pos >= count else { return false }
        let bytes = literal.utf8Start
        for k in 0..<count where p[pos + k] != bytes[k] { return false }
        return true
    }

    mutating func parseLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        guard hasPrefix(literal) else {
            throw error("invalid literal, expected '\(literal)'", at: pos)
        }
        pos += literal.utf8CodeUnitCount
    }

    // MARK: Containers

    mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > JSONParser.maximumDepth {
            throw error("nesting deeper than \(JSONParser.maximumDepth) levels", at: pos)
        }
        pos += 1  // '{'
        var members: [JSONMember] = []
        skipWhitespace()
        if pos < end && p[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(members)
        }
        while true {
            guard pos < end, p[pos] == quote else {
                if !members.isEmpty && pos < end && p[pos] == UInt8(ascii: "}") {
                    throw error("trailing comma in object", at: pos)
                }
                if pos < end && p[pos] == UInt8(ascii: "/") {
                    throw error("comments are not allowed in JSON", at: pos)
                }
                throw expected(members.isEmpty ? "a string key or '}'" : "a string key after ','")
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < end, p[pos] == UInt8(ascii: ":") else {
                throw expected("':' after an object key")
            }
            pos += 1
            let value = try parseValue(depth: depth)
            members.append(JSONMember(key: key, value: value))
            skipWhitespace()
            if pos < end {
                if p[pos] == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                    continue
                }
                if p[pos] == UInt8(ascii: "}") {
                    pos += 1
                    return .object(members)
                }
                if p[pos] == UInt8(ascii: "/") {
                    throw error("comments are not allowed in JSON", at: pos)
                }
            }
            throw expected("',' or '}' after an object member")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > JSONParser.maximumDepth {
            throw error("nesting deeper than \(JSONParser.maximumDepth) levels", at: pos)
        }
        pos += 1  // '['
        var elements: [JSONValue] = []
        skipWhitespace()
        if pos < end && p[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array(elements)
        }
        while true {
            if !elements.isEmpty && pos < end && p[pos] == UInt8(ascii: "]") {
                throw error("trailing comma in array", at: pos)
            }
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            if pos < end {
                if p[pos] == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                    continue
                }
                if p[pos] == UInt8(ascii: "]") {
                    pos += 1
                    return .array(elements)
                }
                if p[pos] == UInt8(ascii: "/") {
                    throw error("comments are not allowed in JSON", at: pos)
                }
            }
            throw expected("',' or ']' after an array element")
        }
    }

    // MARK: Numbers

    mutating func parseNumber() throws(JSONSyntaxError) -> JSONNumber {
        let start = pos
        switch JSONNumberScanner.scan(p, from: start) {
        case .success(let next):
            pos = next
            let text = String(decoding: UnsafeBufferPointer(rebasing: p[start..<next]), as: UTF8.self)
            return JSONNumber(validatedText: text)
        case .failure(.invalid(let message, let offset)):
            throw error(message, at: offset)
        }
    }

    // MARK: Strings

    /// Parses a string starting at the opening quote. Runs of plain bytes are
    /// copied as slices and the result is decoded once.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        let open = pos
        pos += 1
        var runStart = pos
        var unescaped: [UInt8] = []
        var hasEscapes = false
        while true {
            // Fast scan over plain ASCII.
            while pos < end {
                let b = p[pos]
                if b == quote || b == backslash || b < 0x20 || b >= 0x80 { break }
                pos += 1
            }
            guard pos < end else {
                throw error("unterminated string", at: open)
            }
            let b = p[pos]
            if b == quote {
                let run = UnsafeBufferPointer(rebasing: p[runStart..<pos])
                pos += 1
                if !hasEscapes {
                    return String(decoding: run, as: UTF8.self)
                }
                unescaped.append(contentsOf: run)
                return String(decoding: unescaped, as: UTF8.self)
            }
            if b == backslash {
                if !hasEscapes {
                    hasEscapes = true
                    unescaped.reserveCapacity(pos - runStart + 16)
                }
                unescaped.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<pos]))
                try parseEscape(into: &unescaped, stringStart: open)
                runStart = pos
                continue
            }
            if b < 0x20 {
                throw error("unescaped control character U+\(hex(UInt32(b), width: 4)) in string", at: pos)
            }
            // Non-ASCII: validate one UTF-8 sequence.
            guard let (_, length) = decodeUTF8(at: pos) else {
                throw error("invalid UTF-8 in string", at: pos)
            }
            pos += length
        }
    }

    /// `pos` is at the backslash; on return it is just past the escape.
    mutating func parseEscape(into out: inout [UInt8], stringStart: Int) throws(JSONSyntaxError) {
        let escapeStart = pos
        pos += 1
        guard pos < end else {
            throw error("unterminated string", at: stringStart)
        }
        let c = p[pos]
        pos += 1
        switch c {
        case quote: out.append(quote)
        case backslash: out.append(backslash)
        case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: pos) else {
                throw error("invalid \\u escape, expected 4 hex digits", at: escapeStart)
            }
            pos += 4
            var scalarValue = UInt32(unit)
            if unit >= 0xD800 && unit < 0xDC00 {
                guard pos + 1 < end, p[pos] == backslash, p[pos + 1] == UInt8(ascii: "u"),
                      let low = hex4(at: pos + 2), low >= 0xDC00 && low < 0xE000 else {
                    throw error("unpaired high surrogate \\u\(hex(UInt32(unit), width: 4)) in string", at: escapeStart)
                }
                pos += 6
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if unit >= 0xDC00 && unit < 0xE000 {
                throw error("unpaired low surrogate \\u\(hex(UInt32(unit), width: 4)) in string", at: escapeStart)
            }
            appendUTF8(scalarValue, to: &out)
        default:
            let shown = c >= 0x20 && c < 0x7F ? "'\\\(Character(Unicode.Scalar(c)))'" : "'\\' followed by \(describeByte(at: pos - 1))"
            throw error("invalid escape sequence \(shown) in string", at: escapeStart)
        }
    }

    func hex4(at offset: Int) -> UInt16? {
        guard offset + 4 <= end else { return nil }
        var value: UInt16 = 0
        for k in 0..<4 {
            let b = p[offset + k]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// Decodes one well-formed UTF-8 sequence (Unicode Table 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF).
    func decodeUTF8(at offset: Int) -> (Unicode.Scalar, Int)? {
        let b0 = p[offset]
        @inline(__always) func cont(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> UInt32? {
            guard offset + k < end else { return nil }
            let b = p[offset + k]
            guard b >= low && b <= high else { return nil }
            return UInt32(b & 0x3F)
        }
        var value: UInt32
        var length: Int
        switch b0 {
        case 0x00...0x7F:
            return (Unicode.Scalar(b0), 1)
        case 0xC2...0xDF:
            guard let c1 = cont(1) else { return nil }
            value = UInt32(b0 & 0x1F) << 6 | c1
            length = 2
        case 0xE0...0xEF:
            let low: UInt8 = b0 == 0xE0 ? 0xA0 : 0x80
            let high: UInt8 = b0 == 0xED ? 0x9F : 0xBF
            guard let c1 = cont(1, low, high), let c2 = cont(2) else { return nil }
            value = UInt32(b0 & 0x0F) << 12 | c1 << 6 | c2
            length = 3
        case 0xF0...0xF4:
            let low: UInt8 = b0 == 0xF0 ? 0x90 : 0x80
            let high: UInt8 = b0 == 0xF4 ? 0x8F : 0xBF
            guard let c1 = cont(1, low, high), let c2 = cont(2), let c3 = cont(3) else { return nil }
            value = UInt32(b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            length = 4
        default:
            return nil
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}

private func appendUTF8(_ value: UInt32, to out: inout [UInt8]) {
    switch value {
    case 0..<0x80:
        out.append(UInt8(value))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (value >> 6)))
        out.append(UInt8(0x80 | (value & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (value >> 12)))
        out.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (value & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (value >> 18)))
        out.append(UInt8(0x80 | ((value >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (value & 0x3F)))
    }
}

/// Upper-case hex, zero-padded to `width`.
private func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

// MARK: - Writer

@inline(__always)
private func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? nibble + 0x30 : nibble - 10 + UInt8(ascii: "a")
}

private struct JSONWriter {
    var bytes: [UInt8] = []
    let pretty: Bool

    init(pretty: Bool) {
        self.pretty = pretty
        bytes.reserveCapacity(1024)
    }

    mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func newline(indent: Int) {
        bytes.append(0x0A)
        for _ in 0..<(indent * 2) { bytes.append(0x20) }
    }

    mutating func write(_ value: JSONValue, indent: Int) {
        switch value {
        case .null: append("null")
        case .bool(let b): b ? append("true") : append("false")
        case .number(let n): bytes.append(contentsOf: n.text.utf8)
        case .string(let s): writeString(s)
        case .array(let elements):
            guard !elements.isEmpty else { append("[]"); return }
            bytes.append(UInt8(ascii: "["))
            for (k, element) in elements.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                if pretty { newline(indent: indent + 1) }
                write(element, indent: indent + 1)
            }
            if pretty { newline(indent: indent) }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { append("{}"); return }
            bytes.append(UInt8(ascii: "{"))
            for (k, member) in members.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                if pretty { newline(indent: indent + 1) }
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                if pretty { bytes.append(0x20) }
                write(member.value, indent: indent + 1)
            }
            if pretty { newline(indent: indent) }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    mutating func writeString(_ s: String) {
        bytes.append(quote)
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let b = utf8[i]
                guard b < 0x20 || b == quote || b == backslash else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                runStart = i + 1
                bytes.append(backslash)
                if b == quote || b == backslash {
                    bytes.append(b)
                } else {
                    bytes.append(UInt8(ascii: "u"))
                    bytes.append(0x30)
                    bytes.append(0x30)
                    bytes.append(hexDigit(b >> 4))
                    bytes.append(hexDigit(b & 0xF))
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(quote)
    }
}
