import PolicyModel

/// Renders nftables objects as the text `nft -f` reads and `nft list`
/// prints, so a compiled state can be checked with `nft -c -f -` and read by
/// a person at 3 a.m.
public enum NFTRenderer {
    /// A whole ruleset file for the given tables. Each table is first
    /// declared, then deleted, then written out: loading the file replaces
    /// exactly these tables (atomically, in one transaction) and nothing else.
    public static func ruleset(_ tables: some Sequence<NFTTable>, replacing: Bool = true) -> String {
        var out = ""
        for table in tables.sorted(by: { $0.id < $1.id }) {
            if replacing {
                out += "table \(table.id)\ndelete table \(table.id)\n"
            }
            out += self.table(table)
        }
        return out
    }

    public static func table(_ table: NFTTable) -> String {
        var out = "table \(table.id) {\n"
        var first = true
        for set in table.sets.values.sorted(by: { $0.name < $1.name }) {
            if !first { out += "\n" }
            first = false
            out += self.set(set, indent: "\t")
        }
        let chains = table.chains.values.sorted { displayOrder($0) < displayOrder($1) }
        for chain in chains {
            if !first { out += "\n" }
            first = false
            out += self.chain(chain, indent: "\t")
        }
        out += "}\n"
        return out
    }

    /// Base chains first, in hook order, then the rest by name.
    public static func displayOrder(_ chain: NFTChain) -> DisplayOrder {
        DisplayOrder(
            rank: chain.base.map { (0, hookOrder($0.hook), $0.priority) } ?? (1, 0, 0), name: chain.name)
    }

    public struct DisplayOrder: Comparable {
        var rank: (Int, Int, Int32)
        var name: String

        public static func < (a: DisplayOrder, b: DisplayOrder) -> Bool {
            (a.rank.0, a.rank.1, a.rank.2, a.name) < (b.rank.0, b.rank.1, b.rank.2, b.name)
        }
        public static func == (a: DisplayOrder, b: DisplayOrder) -> Bool { a.rank == b.rank && a.name == b.name }
    }

    private static func hookOrder(_ hook: NFTHook) -> Int {
        switch hook {
        case .prerouting: 0
        case .input: 1
        case .forward: 2
        case .output: 3
        case .postrouting: 4
        }
    }

    public static func set(_ set: NFTSet, indent: String = "") -> String {
        let d = set.definition
        var out = "\(indent)\(set.isMap ? "map" : "set") \(set.name) {\n"
        let usesTypeof = (d.key + [d.data].compactMap { $0 }).contains { $0 == .ctZone || $0 == .vlanID }
        if usesTypeof {
            out += "\(indent)\ttypeof \(d.key.map(typeofExpression).joined(separator: " . "))"
            if let data = d.data { out += " : \(typeofExpression(data))" }
        } else {
            out += "\(indent)\ttype \(d.key.map(typeName).joined(separator: " . "))"
            if let data = d.data { out += " : \(typeName(data))" }
        }
        out += "\n"
        if d.interval { out += "\(indent)\tflags interval\n" }
        if let comment = d.comment { out += "\(indent)\tcomment \(quoted(comment))\n" }
        if !set.elements.isEmpty {
            let items = set.elements.sorted().map { element($0, keyTypes: d.key) }
            out += "\(indent)\telements = { " + items.joined(separator: ",\n\(indent)\t\t     ") + " }\n"
        }
        out += "\(indent)}\n"
        return out
    }

    public static func chain(_ chain: NFTChain, indent: String = "") -> String {
        var out = "\(indent)chain \(chain.name) {\n"
        if let comment = chain.comment { out += "\(indent)\tcomment \(quoted(comment))\n" }
        if let base = chain.base {
            out += "\(indent)\ttype filter hook \(base.hook.rawValue) priority \(base.priority); policy \(verdict(base.policy));\n"
        }
        for r in chain.rules { out += "\(indent)\t\(rule(r))\n" }
        out += "\(indent)}\n"
        return out
    }

    public static func rule(_ rule: NFTRule) -> String {
        var parts = rule.matches.map(match)
        parts += rule.statements.map(statement)
        if let v = rule.verdict { parts.append(verdict(v)) }
        if let comment = rule.comment { parts.append("comment \(quoted(comment))") }
        return parts.joined(separator: " ")
    }

    /// One element; with the set's key types, numbers that nft prints in
    /// decimal (VLAN ids, zones) are written that way.
    public static func element(_ element: NFTElement, keyTypes: [NFTDataType] = []) -> String {
        var text = element.key.enumerated().map { i, a in
            if case .integer(let n) = a, i < keyTypes.count, keyTypes[i] == .vlanID || keyTypes[i] == .ctZone {
                return "\(n)"
            }
            return atom(a)
        }.joined(separator: " . ")
        switch element.data {
        case nil: break
        case .mark(let m)?: text += " : \(hex(m))"
        case .zone(let z)?: text += " : \(z)"
        case .verdict(let v)?: text += " : \(verdict(v))"
        }
        return text
    }

    // MARK: - pieces

    static func selector(_ s: NFTSelector) -> String {
        switch s {
        case .iifname: "iifname"
        case .oifname: "oifname"
        case .mark(nil): "meta mark"
        case .mark(let mask?): "meta mark & \(hex(mask))"
        case .nfproto: "meta nfproto"
        case .l4proto: "meta l4proto"
        case .etherType: "ether type"
        case .etherSaddr: "ether saddr"
        case .etherDaddr: "ether daddr"
        case .vlanID: "vlan id"
        case .arpSenderMAC: "arp saddr ether"
        case .arpSenderIP: "arp saddr ip"
        case .ipSaddr: "ip saddr"
        case .ipDaddr: "ip daddr"
        case .ip6Saddr: "ip6 saddr"
        case .ip6Daddr: "ip6 daddr"
        case .transportSport: "th sport"
        case .transportDport: "th dport"
        case .icmpType: "icmp type"
        case .icmpCode: "icmp code"
        case .icmpv6Type: "icmpv6 type"
        case .icmpv6Code: "icmpv6 code"
        case .ctState: "ct state"
        case .ctDirection: "ct direction"
        }
    }

    static func value(_ v: NFTValue, for s: NFTSelector) -> String {
        switch v {
        case .integer(let n):
            switch s {
            case .mark: return hex(UInt32(truncatingIfNeeded: n))
            case .etherType: return etherTypeName(n)
            case .nfproto: return n == 2 ? "ipv4" : n == 10 ? "ipv6" : "\(n)"
            case .l4proto: return protocolName(n)
            case .ctState: return ctStates(n)
            case .ctDirection: return n == 0 ? "original" : "reply"
            default: return "\(n)"
            }
        case .range(let lo, let hi): return "\(lo)-\(hi)"
        case .ifname(let name): return quoted(name)
        case .ifnamePrefix(let prefix): return quoted(prefix + "*")
        case .mac(let mac): return mac.description
        case .address(let range): return range.description
        }
    }

    static func match(_ m: NFTMatch) -> String {
        switch m {
        case .compare(let s, .equal, let v): "\(selector(s)) \(value(v, for: s))"
        case .compare(let s, .notEqual, let v): "\(selector(s)) != \(value(v, for: s))"
        case .anyOf(.ctState, let values):
            // A flag list, not a set: nft then encodes it as one bitmask test.
            "ct state \(values.map { value($0, for: .ctState) }.joined(separator: ","))"
        case .anyOf(let s, let values):
            values.count == 1
                ? "\(selector(s)) \(value(values[0], for: s))"
                : "\(selector(s)) { \(values.map { value($0, for: s) }.joined(separator: ", ")) }"
        case .lookup(let keys, let op, let set):
            "\(keys.map(selector).joined(separator: " . ")) \(op == .equal ? "" : "!= ")@\(set)"
        }
    }

    static func statement(_ s: NFTStatement) -> String {
        switch s {
        case .counter: "counter"
        case .limit(let rate, let burst): "limit rate \(rate)/second burst \(burst) packets"
        case .log(let group, let prefix): "log prefix \(quoted(prefix)) group \(group)"
        case .notrack: "notrack"
        case .setMark(.constant(let m)): "meta mark set \(hex(m))"
        case .setMark(.or(let bits)): "meta mark set meta mark | \(hex(bits))"
        case .setMark(.and(let mask)): "meta mark set meta mark & \(hex(mask))"
        case .setMark(.map(let key, let map)): "meta mark set \(selector(key)) map @\(map)"
        case .setCTZone(let key, let map): "ct zone set \(selector(key)) map @\(map)"
        }
    }

    static func verdict(_ v: NFTVerdict) -> String {
        switch v {
        case .accept: "accept"
        case .drop: "drop"
        case .return: "return"
        case .jump(let c): "jump \(c)"
        case .goto(let c): "goto \(c)"
        case .vmap(let key, let map): "\(selector(key)) vmap @\(map)"
        }
    }

    static func atom(_ a: NFTAtom) -> String {
        switch a {
        case .integer(let n): hex(n)
        case .ifname(let name): quoted(name)
        case .mac(let mac): mac.description
        case .address(let range): range.description
        }
    }

    static func typeName(_ t: NFTDataType) -> String {
        switch t {
        case .ifname: "ifname"
        case .etherAddr: "ether_addr"
        case .ipv4Addr: "ipv4_addr"
        case .ipv6Addr: "ipv6_addr"
        case .mark: "mark"
        case .verdict: "verdict"
        case .ctZone, .vlanID: typeofExpression(t)
        }
    }

    static func typeofExpression(_ t: NFTDataType) -> String {
        switch t {
        case .ifname: "iifname"
        case .etherAddr: "ether saddr"
        case .ipv4Addr: "ip saddr"
        case .ipv6Addr: "ip6 saddr"
        case .mark: "meta mark"
        case .ctZone: "ct zone"
        case .vlanID: "vlan id"
        case .verdict: "verdict"
        }
    }

    static func protocolName(_ n: UInt64) -> String {
        switch n {
        case 1: "icmp"
        case 6: "tcp"
        case 17: "udp"
        case 58: "ipv6-icmp"
        case 132: "sctp"
        default: "\(n)"
        }
    }

    static func etherTypeName(_ n: UInt64) -> String {
        switch n {
        case 0x0800: "ip"
        case 0x0806: "arp"
        case 0x86dd: "ip6"
        case 0x8100: "vlan"
        default: hex(UInt32(n))
        }
    }

    /// ct state bits, as the kernel numbers them: invalid 1, established 2,
    /// related 4, new 8, untracked 64.
    static func ctStates(_ bits: UInt64) -> String {
        let names: [(UInt64, String)] = [(1, "invalid"), (2, "established"), (4, "related"), (8, "new"), (64, "untracked")]
        return names.filter { bits & $0.0 != 0 }.map(\.1).joined(separator: ",")
    }

    static func hex(_ n: UInt32) -> String {
        let digits = String(n, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "'") + "\""
    }
}

extension String {
    /// Foundation-free replacement of every occurrence.
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
