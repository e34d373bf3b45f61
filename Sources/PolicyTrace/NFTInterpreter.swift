import HostModel
import PolicyModel

/// The conntrack state of a packet, as `ct state` sees it (the kernel's
/// bits: invalid 1, established 2, related 4, new 8, untracked 64).
public enum ConnectionState: String, Hashable, Sendable, Codable {
    case invalid, established, related, new, untracked

    var bit: UInt64 {
        switch self {
        case .invalid: 1
        case .established: 2
        case .related: 4
        case .new: 8
        case .untracked: 64
        }
    }
}

/// The metadata a packet carries through one hook besides its headers.
struct HookContext {
    var iifname: String
    var oifname: String?
    var mark: UInt32 = 0
    /// Set from the frame's 802.1Q tag on the trunk; nil for untagged frames.
    var vlanID: UInt16?
    /// Nil before conntrack has seen the packet.
    var connection: ConnectionState?
    var isReply = false
    /// Written by `ct zone set`.
    var zone: UInt16?
    var notrack = false
}

/// One rule that matched during an evaluation: where it is and what it did.
public struct RuleHit: Hashable, Sendable, Codable {
    public var table: String
    public var chain: String
    /// The rule's position in its chain; nil for the base chain's policy.
    public var index: Int?
    public var comment: String?
    /// "accept", "drop", "jump sg/web/egress", "continue" (statements only), ...
    public var effect: String

    /// `inet secgroups sg/web/egress #2`.
    public var location: String { "\(table) \(chain)" + (index.map { " #\($0)" } ?? " (policy)") }
}

/// Runs a packet through the base chains of one table at one hook, over the
/// closed expression set of HostModel/NFTables.swift, the way the kernel's
/// nf_tables core does: rules in order, all matches must hold, a failed map
/// lookup ends the rule (NFT_BREAK), `jump` returns and `goto` does not,
/// the end of a base chain applies its policy.
struct NFTInterpreter {
    let table: NFTTable

    enum Outcome: Equatable { case accept, drop }

    /// nf_tables refuses rulesets that jump deeper than this.
    static let maxJumpDepth = 16

    /// Evaluates the base chains of the table on `hook` whose priority is
    /// in `priorities`, lowest first. Drop ends the evaluation; accept
    /// passes the packet to the next base chain.
    func run(
        hook: NFTHook, priorities: Range<Int32> = Int32.min..<Int32.max, packet: Packet, context: inout HookContext,
        hits: inout [RuleHit]
    ) -> Outcome {
        let chains = table.chains.values
            .filter { $0.base?.hook == hook && priorities.contains($0.base!.priority) }
            .sorted { $0.base!.priority < $1.base!.priority }
        for chain in chains where run(chain, packet: packet, context: &context, hits: &hits) == .drop {
            return .drop
        }
        return .accept
    }

    private func run(_ base: NFTChain, packet: Packet, context: inout HookContext, hits: inout [RuleHit]) -> Outcome {
        var returnStack: [(chain: NFTChain, next: Int)] = []
        var chain = base
        var index = 0
        let tableName = table.id.description
        func hit(_ effect: String, _ rule: NFTRule?) {
            hits.append(RuleHit(table: tableName, chain: chain.name, index: rule == nil ? nil : index, comment: rule?.comment, effect: effect))
        }
        func enter(_ name: String) -> Bool {
            guard let next = table.chains[name] else { return false }
            chain = next
            index = 0
            return true
        }
        while true {
            guard index < chain.rules.count else {
                // The end of a chain: back to the caller, or the base chain's policy.
                guard let caller = returnStack.popLast() else {
                    let policy = base.base?.policy ?? .accept
                    hit(policy == .drop ? "drop" : "accept", nil)
                    return policy == .drop ? .drop : .accept
                }
                (chain, index) = caller
                continue
            }
            let rule = chain.rules[index]
            guard rule.matches.allSatisfy({ matches($0, packet, context) }),
                  execute(rule.statements, packet, &context)
            else {
                index += 1
                continue
            }
            var verdict = rule.verdict
            if case .vmap(let selector, let map) = verdict {
                // A key missing from a verdict map ends the rule, not the chain.
                guard case .verdict(let found)? = lookup(map, [selector], packet, context) else {
                    index += 1
                    continue
                }
                verdict = found
            }
            switch verdict {
            case nil:
                if !rule.statements.allSatisfy({ $0 == .counter }) { hit("continue", rule) }
                index += 1
            case .accept:
                hit("accept", rule)
                return .accept
            case .drop:
                hit("drop", rule)
                return .drop
            case .return:
                hit("return", rule)
                guard let caller = returnStack.popLast() else { return base.base?.policy == .drop ? .drop : .accept }
                (chain, index) = caller
            case .jump(let target):
                hit("jump \(target)", rule)
                guard returnStack.count < Self.maxJumpDepth else { return .drop }
                returnStack.append((chain, index + 1))
                if !enter(target) { return .drop }
            case .goto(let target):
                hit("goto \(target)", rule)
                if !enter(target) { return .drop }
            case .vmap:
                index += 1  // a map holding a vmap verdict: nft can't express it
            }
        }
    }

    // MARK: - matches

    private func matches(_ match: NFTMatch, _ packet: Packet, _ context: HookContext) -> Bool {
        switch match {
        case .compare(let selector, let op, let value):
            // A field the packet doesn't have (an IPv6 address of an IPv4
            // packet, ports of ICMP) fails the rule either way, as a failed
            // header load does in the kernel.
            guard let field = field(selector, packet, context) else { return false }
            return field.matches(value) == (op == .equal)
        case .anyOf(let selector, let values):
            guard let field = field(selector, packet, context) else { return false }
            return values.contains { field.matches($0) }
        case .lookup(let selectors, let op, let set):
            guard let key = key(selectors, packet, context) else { return false }
            let found = table.sets[set]?.elements.contains { Field.matches(key, $0.key) } ?? false
            return found == (op == .equal)
        }
    }

    /// Runs a rule's statements; false when a map lookup failed, which ends the rule.
    private func execute(_ statements: [NFTStatement], _ packet: Packet, _ context: inout HookContext) -> Bool {
        for statement in statements {
            switch statement {
            case .counter, .log:
                break
            case .limit:
                // Rates are out of a trace's reach: one packet is within any.
                break
            case .notrack:
                context.notrack = true
            case .setMark(.constant(let value)):
                context.mark = value
            case .setMark(.or(let bits)):
                context.mark |= bits
            case .setMark(.and(let mask)):
                context.mark &= mask
            case .setMark(.map(let selector, let map)):
                guard case .mark(let value)? = lookup(map, [selector], packet, context) else { return false }
                context.mark = value
            case .setCTZone(let selector, let map):
                guard case .zone(let zone)? = lookup(map, [selector], packet, context) else { return false }
                context.zone = zone
            }
        }
        return true
    }

    private func lookup(_ map: String, _ selectors: [NFTSelector], _ packet: Packet, _ context: HookContext) -> NFTElementData? {
        guard let key = key(selectors, packet, context) else { return nil }
        return table.sets[map]?.elements.first { Field.matches(key, $0.key) }?.data
    }

    // MARK: - fields

    /// The key of a set lookup; nil when the packet lacks one of its fields.
    private func key(_ selectors: [NFTSelector], _ packet: Packet, _ context: HookContext) -> [Field]? {
        var key: [Field] = []
        for selector in selectors {
            guard let value = field(selector, packet, context) else { return nil }
            key.append(value)
        }
        return key
    }

    /// The value of a selector for this packet here; nil when it has none.
    private func field(_ selector: NFTSelector, _ packet: Packet, _ context: HookContext) -> Field? {
        let v4 = packet.family == .ipv4
        switch selector {
        case .iifname: return .ifname(context.iifname)
        case .oifname: return context.oifname.map(Field.ifname)
        case .mark(let mask): return .integer(UInt64(context.mark & (mask ?? .max)))
        case .nfproto: return .integer(table.id.family == .inet ? (v4 ? 2 : 10) : 7)
        case .l4proto: return .integer(UInt64(packet.proto))
        case .etherType:
            if context.vlanID != nil { return .integer(Packet.etherTypeVLAN) }
            return .integer(v4 ? Packet.etherTypeIPv4 : Packet.etherTypeIPv6)
        case .etherSaddr: return packet.sourceMAC.map(Field.mac)
        case .etherDaddr: return packet.destinationMAC.map(Field.mac)
        case .vlanID: return context.vlanID.map { .integer(UInt64($0)) }
        case .arpSenderMAC, .arpSenderIP: return nil  // traces are of IP packets
        case .ipSaddr: return v4 ? .address(packet.source) : nil
        case .ipDaddr: return v4 ? .address(packet.destination) : nil
        case .ip6Saddr: return v4 ? nil : .address(packet.source)
        case .ip6Daddr: return v4 ? nil : .address(packet.destination)
        case .transportSport: return packet.hasPorts ? packet.sourcePort.map { .integer(UInt64($0)) } : nil
        case .transportDport: return packet.hasPorts ? packet.destinationPort.map { .integer(UInt64($0)) } : nil
        case .icmpType: return packet.proto == 1 ? packet.icmpType.map { .integer(UInt64($0)) } : nil
        case .icmpCode: return packet.proto == 1 ? packet.icmpCode.map { .integer(UInt64($0)) } : nil
        case .icmpv6Type: return packet.proto == 58 ? packet.icmpType.map { .integer(UInt64($0)) } : nil
        case .icmpv6Code: return packet.proto == 58 ? packet.icmpCode.map { .integer(UInt64($0)) } : nil
        case .ctState: return context.connection.map { .integer($0.bit) }
        case .ctDirection: return context.connection == nil ? nil : .integer(context.isReply ? 1 : 0)
        }
    }
}

/// One field's value, compared with rule values and set element atoms.
enum Field {
    case integer(UInt64)
    case ifname(String)
    case mac(MACAddress)
    case address(IPAddress)

    func matches(_ value: NFTValue) -> Bool {
        switch (self, value) {
        case (.integer(let a), .integer(let b)): a == b
        case (.integer(let a), .range(let lower, let upper)): lower <= a && a <= upper
        case (.ifname(let a), .ifname(let b)): a == b
        case (.ifname(let a), .ifnamePrefix(let prefix)): a.hasPrefix(prefix)
        case (.mac(let a), .mac(let b)): a == b
        case (.address(let a), .address(let range)): a.family == range.family && range.lower <= a && a <= range.upper
        default: false
        }
    }

    func matches(_ atom: NFTAtom) -> Bool {
        switch (self, atom) {
        case (.integer(let a), .integer(let b)): a == UInt64(b)
        case (.ifname(let a), .ifname(let b)): a == b
        case (.mac(let a), .mac(let b)): a == b
        case (.address(let a), .address(let range)): a.family == range.family && range.lower <= a && a <= range.upper
        default: false
        }
    }

    static func matches(_ key: [Field], _ atoms: [NFTAtom]) -> Bool {
        key.count == atoms.count && zip(key, atoms).allSatisfy { $0.matches($1) }
    }
}
