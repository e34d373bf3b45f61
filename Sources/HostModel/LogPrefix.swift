import PolicyModel

/// What a logged packet's NFLOG prefix says: which port's filtering decided,
/// in which direction, and how. The compiler writes it into the port's log
/// rules and `sgctl watch` reads it back from each logged packet, so the
/// packet names its port and verdict whatever device or namespace it was
/// seen on. Port names are at most 63 characters of `A-Za-z0-9_.-`, so the
/// prefix stays within the kernel's 127 bytes and never needs quoting.
///
/// Text form: `sg drop egress vm-1` (nothing of the port's groups allowed it).
public struct LogPrefix: Hashable, Sendable, Codable {
    public enum Verdict: String, Hashable, Sendable, Codable {
        case drop, accept
    }

    public var verdict: Verdict
    public var direction: Direction
    public var port: String

    /// The NFLOG group the compiler's log rules send to, on every host.
    /// Fixed rather than in the policy: one listener per host reads them all.
    public static let group: UInt16 = 2718

    public init(verdict: Verdict, direction: Direction, port: String) {
        self.verdict = verdict
        self.direction = direction
        self.port = port
    }

    public var text: String { "sg \(verdict.rawValue) \(direction.rawValue) \(port)" }

    /// Nil for a prefix not written by the compiler (another NFLOG user's).
    public init?(text: String) {
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 4, words[0] == "sg",
            let verdict = Verdict(rawValue: String(words[1])),
            let direction = Direction(rawValue: String(words[2])),
            !words[3].isEmpty
        else { return nil }
        self.init(verdict: verdict, direction: direction, port: String(words[3]))
    }
}
