// Reads a YAML policy into the same `JSONValue` tree the JSON parser gives.
//
// Built on Yams' composer (`Yams.compose`), which gives a node tree with
// aliases already resolved. Notes on Yams 6.2.2 behaviour this relies on:
//
// * The composer itself rejects duplicate mapping keys
//   (YamlError.duplicatedKeysInMapping), so duplicates cannot survive into
//   the node tree; they become YAMLSyntaxError "duplicate key 'x' in mapping"
//   at the key's first occurrence. Yams compares keys by text and resolved
//   tag; this reader composes with `Resolver.basic` (every untagged scalar
//   resolves to !!str), so `port:`, `"port":` and `'port':` are all the same
//   key, and `1:` / `"1":` too. Only keys with different explicit tags
//   (`!!int 1:` and `1:`) get past Yams; both are then kept as key "1" and
//   the decoder sees the duplicate as it would in JSON.
// * `Resolver.basic` also avoids Yams' default resolver, which runs several
//   NSRegularExpressions per mapping key during that duplicate check (it was
//   about two thirds of the compose time) and is YAML 1.1 flavoured anyway
//   (yes/no/on/off, 0777 octal, sexagesimal, timestamps). Plain scalars are
//   resolved here per the YAML 1.2 core schema instead.
// * The duplicate check resolves mapping keys' tags in place (Tag is a
//   class shared by an anchored node and its aliases). With
//   `Resolver.basic` that turns an untagged plain key's tag into !!str, so
//   a plain scalar that is anchored and also used as a mapping key
//   (`a: &p 80` ... `{*p : x}`) reads as the string "80" everywhere, not
//   as a number. Nothing else is affected. (A resolver rule marking plain
//   scalars would avoid this but costs a regular expression per key.)
// * Quoted and block scalars come out of the composer tagged !!str.
// * libyaml limits nesting to 1000 levels; this reader limits it to
//   `JSONParser.maximumDepth` like JSON.

import PolicyModel
import Yams

/// A YAML syntax or structure error. Line and column are 1-based when known;
/// YAML columns count Unicode scalars (libyaml's convention).
public struct YAMLSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(line: Int?, column: Int?, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// "line 3, column 14: <message>", or just the message when the
    /// position is unknown.
    public var description: String {
        switch (line, column) {
        case let (line?, column?): return "line \(line), column \(column): \(message)"
        case let (line?, nil): return "line \(line): \(message)"
        default: return message
        }
    }
}

public enum YAMLReader {
    /// Reads one YAML document into the same tree JSON gives. Mapping keys
    /// keep their order; keys with the same text are an error raised by
    /// Yams (see the file comment). Plain scalars resolve per the YAML 1.2 core
    /// schema (null/Null/NULL/~/empty -> null; true/false in three casings ->
    /// bool; decimal, 0o octal and 0x hex integers and floats -> number with
    /// a JSON-valid lexeme, e.g. 0x10 -> "16", "+1" -> "1", ".5" -> "0.5",
    /// "1.0" stays "1.0"; .inf/.nan and everything else -> string). Quoted and
    /// block scalars are always strings. Anchors and aliases are resolved.
    /// Mapping keys must be scalars and become their text as written.
    /// Merge keys (`<<`) are rejected. Empty input -> "empty document";
    /// more than one document -> error.
    public static func parse(_ text: String) throws(YAMLSyntaxError) -> JSONValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .basic, .default, .utf8)
        } catch let error as YamlError {
            throw YAMLSyntaxError(error, text: text)
        } catch {
            throw YAMLSyntaxError(line: nil, column: nil, message: "\(error)")
        }
        guard let root else {
            throw YAMLSyntaxError(line: nil, column: nil, message: "empty document")
        }
        if case .scalar(let scalar) = root, scalar.string.isEmpty, scalar.style == .plain,
           scalar.tag.rawValue.isEmpty {
            throw YAMLSyntaxError(line: scalar.mark?.line, column: scalar.mark?.column, message: "empty document")
        }
        // Aliases are shared in the node tree but copied into the value
        // tree; bound the expansion so an alias bomb cannot exhaust memory.
        var converter = Converter(nodeBudget: max(1_000_000, 2 * text.utf8.count))
        return try converter.convert(root, depth: 0)
    }
}

// MARK: - Yams errors

extension YAMLSyntaxError {
    init(_ error: YamlError, text: String) {
        switch error {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _):
            self.init(line: mark.line, column: mark.column, message: Self.message(problem, context))
        case let .composer(context, problem, mark, _):
            if problem == "but found another document" {
                self.init(line: mark.line, column: mark.column,
                          message: "expected a single document, but found another document")
            } else {
                self.init(line: mark.line, column: mark.column, message: Self.message(problem, context))
            }
        case let .reader(problem, offset, value, _):
            var line: Int?
            var column: Int?
            if let offset, let (l, c) = Self.position(ofCharacterOffset: offset, in: text) {
                line = l
                column = c
            }
            let message = value >= 0
                ? "\(problem) (U+\(String(UInt32(bitPattern: value), radix: 16, uppercase: true)))"
                : problem
            self.init(line: line, column: column, message: message)
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            let message = duplicates.count == 1
                ? "duplicate key \(keys) in mapping (position of its first occurrence)"
                : "duplicate keys \(keys) in mapping (position of the first occurrence of the first)"
            self.init(line: context.mark.line, column: context.mark.column, message: message)
        default:
            self.init(line: nil, column: nil, message: "\(error)")
        }
    }

    private static func message(_ problem: String, _ context: YamlError.Context?) -> String {
        guard let context else { return problem }
        return "\(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
    }

    /// Yams gives reader errors as a Character offset.
    private static func position(ofCharacterOffset offset: Int, in text: String) -> (Int, Int)? {
        var line = 1
        var column = 1
        var remaining = offset
        for character in text {
            if remaining == 0 { return (line, column) }
            remaining -= 1
            if character.isNewline {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return remaining == 0 ? (line, column) : nil
    }
}

// MARK: - Conversion

private enum CoreTag {
    static let str = "tag:yaml.org,2002:str"
    static let null = "tag:yaml.org,2002:null"
    static let bool = "tag:yaml.org,2002:bool"
    static let int = "tag:yaml.org,2002:int"
    static let float = "tag:yaml.org,2002:float"
    static let map = "tag:yaml.org,2002:map"
    static let seq = "tag:yaml.org,2002:seq"
}

private struct Converter {
    var nodeBudget: Int

    mutating func convert(_ node: Node, depth: Int) throws(YAMLSyntaxError) -> JSONValue {
        nodeBudget -= 1
        if nodeBudget < 0 {
            throw error("document too large after alias expansion", node.mark)
        }
        switch node {
        case .scalar(let scalar):
            return try convertScalar(scalar)
        case .sequence(let sequence):
            try checkDepth(depth + 1, sequence.mark)
            try checkCollectionTag(sequence.tag.rawValue, allowed: CoreTag.seq, sequence.mark)
            var elements: [JSONValue] = []
            elements.reserveCapacity(sequence.count)
            for element in sequence {
                elements.append(try convert(element, depth: depth + 1))
            }
            return .array(elements)
        case .mapping(let mapping):
            try checkDepth(depth + 1, mapping.mark)
            try checkCollectionTag(mapping.tag.rawValue, allowed: CoreTag.map, mapping.mark)
            var members: [JSONMember] = []
            members.reserveCapacity(mapping.count)
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    let kind: String
                    switch key {
                    case .mapping: kind = "a mapping"
                    case .sequence: kind = "a sequence"
                    default: kind = "an alias"
                    }
                    throw error("mapping keys must be scalars, found \(kind)", key.mark)
                }
                if keyScalar.string == "<<" && keyScalar.style == .plain {
                    throw error("merge keys ('<<') are not supported", keyScalar.mark)
                }
                members.append(JSONMember(key: keyScalar.string, value: try convert(value, depth: depth + 1)))
            }
            return .object(members)
        case .alias(let alias):
            // The composer substitutes anchored nodes; this is not reached.
            throw error("unresolved alias '*\(alias.anchor.rawValue)'", alias.mark)
        }
    }

    func checkDepth(_ depth: Int, _ mark: Mark?) throws(YAMLSyntaxError) {
        if depth > JSONParser.maximumDepth {
            throw error("nesting deeper than \(JSONParser.maximumDepth) levels", mark)
        }
    }

    func checkCollectionTag(_ tag: String, allowed: String, _ mark: Mark?) throws(YAMLSyntaxError) {
        guard tag.isEmpty || tag == "!" || tag == allowed else {
            throw error("unsupported tag '\(tag)'", mark)
        }
    }

    func convertScalar(_ scalar: Node.Scalar) throws(YAMLSyntaxError) -> JSONValue {
        let tag = scalar.tag.rawValue
        let plain = scalar.style == .plain || scalar.style == .any
        switch tag {
        case "":
            return plain ? CoreSchema.resolve(scalar.string) : .string(scalar.string)
        case "!", CoreTag.str:
            return .string(scalar.string)
        case CoreTag.null, CoreTag.bool, CoreTag.int, CoreTag.float:
            let value = CoreSchema.resolve(scalar.string)
            let fits: Bool
            switch value {
            case .null: fits = tag == CoreTag.null
            case .bool: fits = tag == CoreTag.bool
            case .number(let number):
                let isInteger = !number.text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
                fits = tag == CoreTag.float || (tag == CoreTag.int && isInteger && CoreSchema.isInteger(scalar.string))
            default: fits = false
            }
            guard fits else {
                let short = "!!" + tag.dropFirst("tag:yaml.org,2002:".count)
                throw error("'\(scalar.string)' is not a valid \(short) value", scalar.mark)
            }
            return value
        default:
            throw error("unsupported tag '\(tag)'", scalar.mark)
        }
    }

    func error(_ message: String, _ mark: Mark?) -> YAMLSyntaxError {
        YAMLSyntaxError(line: mark?.line, column: mark?.column, message: message)
    }
}

// MARK: - YAML 1.2 core schema

enum CoreSchema {
    /// Resolves a plain scalar per the YAML 1.2 core schema. Numbers get a
    /// JSON-valid lexeme; .inf and .nan (not representable in JSON) and
    /// everything unmatched stay strings.
    static func resolve(_ text: String) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        let bytes = Array(text.utf8)
        guard let first = bytes.first,
              first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".") || isDigit(first)
        else { return .string(text) }
        if let lexeme = integerLexeme(bytes) ?? floatLexeme(bytes), let number = JSONNumber(lexeme) {
            return .number(number)
        }
        return .string(text)
    }

    /// True when `text` matches one of the core schema integer forms.
    static func isInteger(_ text: String) -> Bool {
        integerLexeme(Array(text.utf8)) != nil
    }

    private static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+` -> decimal lexeme.
    private static func integerLexeme(_ b: [UInt8]) -> String? {
        if b.count > 2 && b[0] == UInt8(ascii: "0") && (b[1] == UInt8(ascii: "o") || b[1] == UInt8(ascii: "x")) {
            let radix = b[1] == UInt8(ascii: "o") ? 8 : 16
            var digits: [UInt8] = []
            for c in b[2...] {
                let d: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
                default: return nil
                }
                guard Int(d) < radix else { return nil }
                digits.append(d)
            }
            return decimalString(digits: digits, radix: radix)
        }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "-") || b[0] == UInt8(ascii: "+") {
            negative = b[0] == UInt8(ascii: "-")
            i = 1
        }
        guard i < b.count, b[i...].allSatisfy(isDigit) else { return nil }
        while i < b.count - 1 && b[i] == UInt8(ascii: "0") { i += 1 }  // leading zeros
        return (negative ? "-" : "") + String(decoding: b[i...], as: UTF8.self)
    }

    /// Converts big-endian digits in `radix` to a decimal string of any size.
    private static func decimalString(digits: [UInt8], radix: Int) -> String {
        var decimal: [UInt8] = [0]  // little-endian base-10 digits
        for d in digits {
            var carry = Int(d)
            for k in decimal.indices {
                let v = Int(decimal[k]) * radix + carry
                decimal[k] = UInt8(v % 10)
                carry = v / 10
            }
            while carry > 0 {
                decimal.append(UInt8(carry % 10))
                carry /= 10
            }
        }
        while decimal.count > 1 && decimal.last == 0 { decimal.removeLast() }
        return String(decoding: decimal.reversed().map { $0 + UInt8(ascii: "0") }, as: UTF8.self)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` -> JSON lexeme
    /// ("+1.5" -> "1.5", ".5" -> "0.5", "1." -> "1.0", "007.5" -> "7.5").
    private static func floatLexeme(_ b: [UInt8]) -> String? {
        var i = 0
        var out = ""
        if b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") {
            if b[i] == UInt8(ascii: "-") { out = "-" }
            i += 1
        }
        let intStart = i
        while i < b.count && isDigit(b[i]) { i += 1 }
        var integerPart = b[intStart..<i]
        while integerPart.count > 1 && integerPart.first == UInt8(ascii: "0") { integerPart = integerPart.dropFirst() }
        var fraction: ArraySlice<UInt8>? = nil
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            let fracStart = i
            while i < b.count && isDigit(b[i]) { i += 1 }
            fraction = b[fracStart..<i]
        }
        // Need digits before the point, or after it.
        guard !integerPart.isEmpty || !(fraction ?? []).isEmpty else { return nil }
        out += integerPart.isEmpty ? "0" : String(decoding: integerPart, as: UTF8.self)
        if let fraction {
            out += "." + (fraction.isEmpty ? "0" : String(decoding: fraction, as: UTF8.self))
        }
        if i < b.count && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            let expStart = i
            i += 1
            if i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) { i += 1 }
            let digitsStart = i
            while i < b.count && isDigit(b[i]) { i += 1 }
            guard i > digitsStart else { return nil }
            out += String(decoding: b[expStart..<i], as: UTF8.self)
        }
        guard i == b.count else { return nil }
        return out
    }
}
