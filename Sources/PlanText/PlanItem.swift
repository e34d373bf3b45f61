/// One change as the plan shows it: a sign, the kind of object, where it is
/// and what it holds, e.g.
/// `+ element  bridge allowed_ipv4  "tap-vm2" . 52:54:00:00:00:02 . 10.0.0.2`.
public struct PlanItem: Hashable, Sendable {
    public enum Change: String, Hashable, Sendable {
        case added = "+"
        case removed = "-"
        /// Changed in place: a chain whose rules are replaced, a port moved
        /// to another bridge or VLAN.
        case replaced = "~"
    }

    /// A line under an item: one rule of a chain, one element of a new set.
    public struct Detail: Hashable, Sendable {
        /// Nil for context that neither comes nor goes.
        public var change: Change?
        public var text: String

        public init(_ change: Change?, _ text: String) {
            self.change = change
            self.text = text
        }
    }

    public var change: Change
    /// `element`, `chain`, `set`, `table`, `bridge`, `vxlan`, `flood`, `port`, `trunk`.
    public var object: String
    /// The table and set or chain (`inet egress_ports`), or the device.
    public var place: String
    public var value: String
    /// Whom the value belongs to, when the value doesn't say (`port vm2`
    /// for a member address of a group's set).
    public var note: String?
    public var details: [Detail]
    /// How the item counts in summaries ("element", "added").
    public var tally: Tally

    public init(
        _ change: Change, _ object: String, _ place: String, _ value: String = "", note: String? = nil,
        details: [Detail] = [], tally: Tally
    ) {
        self.change = change
        self.object = object
        self.place = place
        self.value = value
        self.note = note
        self.details = details
        self.tally = tally
    }
}

/// What kind of kernel change an item is, for counts: "3 elements added".
public struct Tally: Hashable, Sendable, Comparable {
    public var noun: Noun
    public var verb: String
    /// Where the kind goes in a list of counts: the order of the operations
    /// in a batch, so summaries read alike from plan to plan.
    var rank: Int

    public static func < (a: Tally, b: Tally) -> Bool { a.rank < b.rank }

    public func counted(_ n: Int) -> String { "\(noun.counted(n)) \(verb)" }

    static let tableAdded = Tally(noun: Noun("table"), verb: "added", rank: 0)
    static let setAdded = Tally(noun: Noun("set"), verb: "added", rank: 1)
    static let chainAdded = Tally(noun: Noun("chain"), verb: "added", rank: 2)
    static let elementAdded = Tally(noun: Noun("element"), verb: "added", rank: 3)
    static let elementDeleted = Tally(noun: Noun("element"), verb: "deleted", rank: 4)
    static let chainReplaced = Tally(noun: Noun("chain"), verb: "replaced", rank: 5)
    static let chainDeleted = Tally(noun: Noun("chain"), verb: "deleted", rank: 6)
    static let setDeleted = Tally(noun: Noun("set"), verb: "deleted", rank: 7)
    static let tableDeleted = Tally(noun: Noun("table"), verb: "deleted", rank: 8)
    static let portDetached = Tally(noun: Noun("port"), verb: "detached", rank: 10)
    static let trunkVLANDeleted = Tally(noun: Noun("trunk VLAN"), verb: "deleted", rank: 11)
    static let trunkDetached = Tally(noun: Noun("trunk"), verb: "detached", rank: 12)
    static let floodDeleted = Tally(noun: Noun("flood entry", "flood entries"), verb: "deleted", rank: 13)
    static let vxlanDeleted = Tally(noun: Noun("VXLAN device"), verb: "deleted", rank: 14)
    static let bridgeDeleted = Tally(noun: Noun("bridge"), verb: "deleted", rank: 15)
    static let bridgeAdded = Tally(noun: Noun("bridge"), verb: "added", rank: 16)
    static let vxlanAdded = Tally(noun: Noun("VXLAN device"), verb: "added", rank: 17)
    static let floodAdded = Tally(noun: Noun("flood entry", "flood entries"), verb: "added", rank: 18)
    static let trunkAttached = Tally(noun: Noun("trunk"), verb: "attached", rank: 19)
    static let trunkVLANAdded = Tally(noun: Noun("trunk VLAN"), verb: "added", rank: 20)
    static let portAttached = Tally(noun: Noun("port"), verb: "attached", rank: 21)
    static let portMoved = Tally(noun: Noun("port"), verb: "moved", rank: 22)
}

/// Counts of items by kind, in batch order: "3 elements added, 1 chain replaced".
public struct TallyCounts: Hashable, Sendable {
    public private(set) var counts: [Tally: Int] = [:]

    public init() {}

    public init(_ items: some Sequence<PlanItem>) {
        for item in items { add(item.tally) }
    }

    public mutating func add(_ tally: Tally, _ n: Int = 1) { counts[tally, default: 0] += n }

    public mutating func formUnion(_ other: TallyCounts) {
        for (tally, n) in other.counts { add(tally, n) }
    }

    public var total: Int { counts.values.reduce(0, +) }

    public var description: String {
        counts.sorted { $0.key < $1.key }.map { $0.key.counted($0.value) }.joined(separator: ", ")
    }
}
