/// When to colour: `--color auto|always|never`.
public enum ColorMode: String, Hashable, Sendable, CaseIterable {
    case auto, always, never

    /// `auto` colours only what goes to a terminal, and not when NO_COLOR
    /// is set to anything (no-color.org) or the terminal is `dumb`: piped
    /// into a file, a pager without -R or a script, escape codes are noise.
    public func usesColor(isTerminal: Bool, environment: [String: String]) -> Bool {
        switch self {
        case .always: true
        case .never: false
        case .auto: isTerminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
        }
    }
}

/// ANSI SGR styling, or none.
public struct TextStyle: Hashable, Sendable {
    public enum Paint: String, Hashable, Sendable {
        case red = "31", green = "32", yellow = "33", bold = "1", dim = "2"
    }

    public var colored: Bool

    public init(colored: Bool) { self.colored = colored }

    public func paint(_ text: String, _ paint: Paint) -> String {
        colored && !text.isEmpty ? "\u{1B}[\(paint.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// Additions green, removals red, changes in place yellow, as diff tools do.
    public func paint(_ text: String, _ change: PlanItem.Change?) -> String {
        switch change {
        case .added?: paint(text, .green)
        case .removed?: paint(text, .red)
        case .replaced?: paint(text, .yellow)
        case nil: text
        }
    }
}
