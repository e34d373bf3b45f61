/// What a change is about in the policy's terms: the unit an operator thinks
/// in when reading a plan ("what happens to vm2?", "to group web?"), rather
/// than the nftables set or chain the change lands in.
public enum PlanSubject: Hashable, Sendable, Comparable {
    /// A port's own entries and bridge attachment. `name` is nil for a
    /// device the kernel has but no port of the policy names (a port that
    /// was removed from the policy).
    case port(name: String?, device: String)
    /// A security group's rule chains and the address sets of its members.
    case group(String)
    /// The chains shared by the ports that have exactly these groups, as the
    /// chain names write them (`web/db`; empty for ports without groups).
    case profile(String)
    /// The host's own objects: tables, base chains, bridges, tunnels, the
    /// trunk, conntrack zones.
    case host

    public enum Kind: Int, Hashable, Sendable, Comparable, CaseIterable {
        case port, group, profile, host

        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }

        public var noun: Noun {
            switch self {
            case .port: Noun("port")
            case .group: Noun("group")
            case .profile: Noun("profile")
            case .host: Noun("host-wide object", "host-wide objects")
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .port: .port
        case .group: .group
        case .profile: .profile
        case .host: .host
        }
    }

    /// Ports by name (devices no port names after them), then groups,
    /// profiles, and the host's own objects last; names in natural order
    /// (`worker-2` before `worker-10`).
    public static func < (a: PlanSubject, b: PlanSubject) -> Bool {
        if a.kind != b.kind { return a.kind < b.kind }
        switch (a, b) {
        case (.port(let n, let d), .port(let m, let e)):
            switch (n, m) {
            case (let n?, let m?): return n == m ? NaturalOrder.less(d, e) : NaturalOrder.less(n, m)
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return NaturalOrder.less(d, e)
            }
        case (.group(let x), .group(let y)), (.profile(let x), .profile(let y)): return NaturalOrder.less(x, y)
        default: return false
        }
    }

    /// The section heading: `port vm2 (tap-vm2)`, `group web`, `host hv1`.
    public func title(host: String) -> String {
        switch self {
        case .port(let name?, let device): "port \(name) (\(device))"
        case .port(nil, let device): "device \(device) (no port of the policy)"
        case .group(let name): "group \(name)"
        case .profile(""): "profile without groups"
        case .profile(let groups): "profile \(groups)"
        case .host: "host \(host)"
        }
    }
}

/// A noun with its plural, for counts people read ("1 port", "2 ports").
public struct Noun: Hashable, Sendable {
    public var singular: String
    public var plural: String

    public init(_ singular: String, _ plural: String? = nil) {
        self.singular = singular
        self.plural = plural ?? singular + "s"
    }

    public func counted(_ n: Int) -> String { "\(n) \(n == 1 ? singular : plural)" }
}

/// Names compared with their runs of digits as numbers, as people count:
/// `vm2` < `vm10`.
enum NaturalOrder {
    static func less(_ a: String, _ b: String) -> Bool {
        var (i, j) = (a.unicodeScalars[...], b.unicodeScalars[...])
        while let x = i.first, let y = j.first {
            if x.properties.numericType == .decimal, y.properties.numericType == .decimal, x.isASCII, y.isASCII {
                let m = i.prefix { $0.isASCII && $0.properties.numericType == .decimal }
                let n = j.prefix { $0.isASCII && $0.properties.numericType == .decimal }
                let (p, q) = (String(m).drop { $0 == "0" }, String(n).drop { $0 == "0" })
                if p.count != q.count { return p.count < q.count }
                if p != q { return p < q }
                i = i.dropFirst(m.count)
                j = j.dropFirst(n.count)
            } else {
                if x != y { return x.value < y.value }
                i = i.dropFirst()
                j = j.dropFirst()
            }
        }
        // One is a prefix of the other in this order; fall back to plain
        // order so that names differing only in leading zeros stay apart.
        return i.isEmpty && !j.isEmpty || (i.isEmpty == j.isEmpty && a < b)
    }
}
