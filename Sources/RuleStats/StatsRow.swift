import HostModel
import PolicyCompiler
import PolicyModel

/// One line of `sgctl stats`: what a counter counts, named the way the
/// policy names it, and its values.
public struct StatsRow: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// Packets a security-group rule accepted, for every port of the
        /// group on this host (group chains are shared by the group's ports).
        case rule
        /// Packets of one port that no rule of its groups allowed.
        case defaultDrop = "default-drop"
        /// Packets conntrack found invalid, for ports with the same groups.
        case invalid
        /// Frames the port-security checks dropped (spoofed MAC or address,
        /// DHCP server replies, router advertisements), for all ports.
        case portSecurity = "port-security"
    }

    public var kind: Kind
    public var direction: Direction?
    /// The rule's group, or the groups of the ports an `invalid` row counts.
    public var groups: [String]
    /// The rule's index in its group (policy order, from 0).
    public var rule: Int?
    /// The rule's description, or the port-security check.
    public var description: String?
    public var port: String?
    public var device: String?
    public var packets: UInt64
    public var bytes: UInt64

    public init(
        kind: Kind, direction: Direction? = nil, groups: [String] = [], rule: Int? = nil, description: String? = nil,
        port: String? = nil, device: String? = nil, packets: UInt64, bytes: UInt64
    ) {
        self.kind = kind
        self.direction = direction
        self.groups = groups
        self.rule = rule
        self.description = description
        self.port = port
        self.device = device
        self.packets = packets
        self.bytes = bytes
    }

    /// The counters of a host's rules as rows. A policy rule becomes one
    /// kernel rule per IP family: their counters are added up. Counters the
    /// compiler didn't write (unknown chains) are left out.
    public static func rows(from counters: [NFTRuleCounter]) -> [StatsRow] {
        var rows: [StatsRow: StatsRow] = [:]
        for counter in counters {
            guard let row = row(for: counter) else { continue }
            // What names a row is everything but its values.
            var key = row
            (key.packets, key.bytes) = (0, 0)
            rows[key, default: key].packets += row.packets
            rows[key]!.bytes += row.bytes
        }
        return rows.values.sorted(by: StatsRow.displayOrder)
    }

    static func row(for counter: NFTRuleCounter) -> StatsRow? {
        let parts = counter.chain.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let direction = parts.last.flatMap(Direction.init(rawValue:))
        switch (counter.table.family, parts.first) {
        case (.inet, "sg") where parts.count == 3 && direction != nil:
            // Comments are `GROUP rule N` or `GROUP rule N: description`.
            let group = parts[1]
            guard let comment = counter.ruleComment, comment.hasPrefix("\(group) rule ") else { return nil }
            let rest = comment.dropFirst(group.count + 6)
            guard let number = Int(rest.prefix { $0.isNumber }) else { return nil }
            let description = rest.firstIndex(of: ":").map { String(rest[rest.index($0, offsetBy: 1)...].drop { $0 == " " }) }
            return StatsRow(
                kind: .rule, direction: direction, groups: [group], rule: number, description: description,
                packets: counter.packets, bytes: counter.bytes)
        case (.inet, "port") where parts.count == 3 && direction != nil:
            guard counter.ruleComment == Naming.defaultDropComment else { return nil }
            let port = counter.chainComment.flatMap { $0.hasPrefix("port ") ? String($0.dropFirst(5)) : nil }
            return StatsRow(
                kind: .defaultDrop, direction: direction, port: port, device: parts[1], packets: counter.packets, bytes: counter.bytes)
        case (.inet, "profile") where direction != nil:
            guard counter.ruleComment == "invalid" else { return nil }
            // Profiles of very long group lists are named by a hash: their
            // groups are then only in the chain's comment.
            let groups = Array(parts.dropFirst().dropLast())
            let named = groups.count == 1 && groups[0].hasPrefix("h") && counter.chainComment?.hasPrefix("ports in ") == true
                ? counter.chainComment!.dropFirst(9).split(separator: ", ").map(String.init) : groups
            return StatsRow(kind: .invalid, direction: direction, groups: named, packets: counter.packets, bytes: counter.bytes)
        case (.bridge, _) where counter.chain.hasPrefix("port-security"):
            return StatsRow(
                kind: .portSecurity, direction: .egress, description: counter.ruleComment ?? counter.chain,
                packets: counter.packets, bytes: counter.bytes)
        default:
            return nil
        }
    }

    /// Group rules first (by group, direction, index), then ports' drops,
    /// then invalid packets by profile, then the port-security checks.
    static func displayOrder(_ a: StatsRow, _ b: StatsRow) -> Bool {
        let order: [Kind] = [.rule, .defaultDrop, .invalid, .portSecurity]
        if a.kind != b.kind { return order.firstIndex(of: a.kind)! < order.firstIndex(of: b.kind)! }
        let ak = (a.groups.joined(separator: ","), a.port ?? a.device ?? "", a.direction?.rawValue ?? "", a.rule ?? 0, a.description ?? "")
        let bk = (b.groups.joined(separator: ","), b.port ?? b.device ?? "", b.direction?.rawValue ?? "", b.rule ?? 0, b.description ?? "")
        return ak < bk
    }
}

/// Which rows `sgctl stats --port P --group G` shows.
public struct StatsFilter: Sendable {
    public var port: String?
    public var group: String?

    public init(port: String? = nil, group: String? = nil) {
        self.port = port
        self.group = group
    }

    /// `--port` (the port's name or device) keeps that port's drops;
    /// `--group` keeps the group's rules and the invalid packets of ports in
    /// it. Both given: rows either keeps. Neither: every row.
    public func keeps(_ row: StatsRow) -> Bool {
        if port == nil && group == nil { return true }
        if let port, row.kind == .defaultDrop, row.port == port || row.device == port { return true }
        if let group, row.kind == .rule || row.kind == .invalid, row.groups.contains(group) { return true }
        return false
    }
}
