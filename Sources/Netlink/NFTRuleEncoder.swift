import CNetlink
import HostModel
import PolicyModel

/// An anonymous set a rule needs (`tcp dport { 22, 80-90 }`): created in the
/// same batch just before the rule, bound to it, and gone with it.
struct NFTAnonymousSet {
    /// The batch-local id the rule's lookup refers to.
    var id: UInt32
    var keyType: UInt32
    var keyLength: Int
    var interval: Bool
    var elements: [NFTWireElement]
}

/// One element as bytes: a key (and for concatenated ranges, the key's end),
/// map data or a verdict, and flags (`NFT_SET_ELEM_INTERVAL_END`).
struct NFTWireElement {
    var key: [UInt8]
    var keyEnd: [UInt8]?
    var data: [UInt8]?
    var verdict: NFTVerdict?
    var flags: UInt32 = 0
}

/// Turns one IR rule into libnftnl expressions, the way nft itself would
/// encode the same rule text, so `nft list` prints it back readably. The
/// expressions are literal: every match of the IR and nothing more (the
/// compiler states protocol dependencies itself), which makes the decoder an
/// exact inverse.
struct NFTRuleEncoder {
    /// The first 32-bit register (`NFT_REG32_00`); `NFT_REG_1` is the same
    /// storage. The verdict register is 0.
    static let firstRegister: UInt32 = 8
    static let verdictRegister: UInt32 = 0

    private let rule: OpaquePointer
    private(set) var anonymousSets: [NFTAnonymousSet] = []
    private var nextSetID: () -> UInt32

    /// Appends the expressions of `ir` to `rule` (a `struct nftnl_rule`).
    /// `nextSetID` hands out batch-unique ids for anonymous sets.
    static func encode(_ ir: NFTRule, into rule: OpaquePointer, nextSetID: @escaping () -> UInt32) -> [NFTAnonymousSet] {
        var encoder = NFTRuleEncoder(rule: rule, nextSetID: nextSetID)
        for match in ir.matches { encoder.match(match) }
        for statement in ir.statements { encoder.statement(statement) }
        if let verdict = ir.verdict { encoder.verdict(verdict) }
        if let comment = ir.comment {
            let udata = NFTSetUserData.commentTLV(comment)
            udata.withUnsafeBytes { _ = nftnl_rule_set_data(rule, UInt16(NFTNL_RULE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
        }
        return encoder.anonymousSets
    }

    private init(rule: OpaquePointer, nextSetID: @escaping () -> UInt32) {
        self.rule = rule
        self.nextSetID = nextSetID
    }

    // MARK: - matches

    private mutating func match(_ match: NFTMatch) {
        let register = Self.firstRegister
        switch match {
        case .compare(.ctState, .equal, .integer(let bits)):
            load(.ctState, into: register)
            cmp(register, NFT_CMP_EQ, NFTSelector.ctState.wire.bytes(bits))
        case .compare(let selector, let op, let value):
            load(selector, into: register)
            compare(selector, op, value, register: register)
        case .anyOf(.ctState, let values):
            // State bits: any of them set, as nft encodes `ct state a,b`.
            let bits = values.reduce(UInt64(0)) { bits, value in
                if case .integer(let n) = value { bits | n } else { bits }
            }
            let wire = NFTSelector.ctState.wire
            load(.ctState, into: register)
            bitwise(register, mask: wire.bytes(bits), xor: wire.bytes(0))
            cmp(register, NFT_CMP_NEQ, wire.bytes(0))
        case .anyOf(let selector, let values):
            load(selector, into: register)
            let set = anonymousSet(selector, values)
            anonymousSets.append(set)
            expression("lookup") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SREG), register)
                nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOOKUP_SET), "__set%d")
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SET_ID), set.id)
            }
        case .lookup(let selectors, let op, let set):
            let first = concatenation(selectors)
            expression("lookup") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SREG), first)
                nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOOKUP_SET), set)
                if op == .notEqual { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_FLAGS), UInt32(NFT_LOOKUP_F_INV.rawValue)) }
            }
        }
    }

    private mutating func compare(_ selector: NFTSelector, _ op: NFTCompare, _ value: NFTValue, register: UInt32) {
        let equal = op == .equal
        switch value {
        case .range(let lo, let hi):
            range(register, equal: equal, from: selector.wire.bytes(lo), to: selector.wire.bytes(hi))
        case .address(let range) where range.lower != range.upper:
            if let prefix = range.prefix {
                // `ip saddr 10.0.0.0/8`: mask the host bits, compare the network.
                let mask = (0..<selector.wire.length).map { i -> UInt8 in
                    let bits = min(max(prefix.length - 8 * i, 0), 8)
                    return bits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bits))
                }
                bitwise(register, mask: mask, xor: [UInt8](repeating: 0, count: mask.count))
                cmp(register, equal ? NFT_CMP_EQ : NFT_CMP_NEQ, NFTWire.address(range.lower))
            } else {
                self.range(register, equal: equal, from: NFTWire.address(range.lower), to: NFTWire.address(range.upper))
            }
        default:
            cmp(register, equal ? NFT_CMP_EQ : NFT_CMP_NEQ, selector.bytes(value)!)
        }
    }

    /// Loads each selector into consecutive registers (each starting on a
    /// 32-bit boundary) and returns the first: a concatenated set key.
    private mutating func concatenation(_ selectors: [NFTSelector]) -> UInt32 {
        var register = Self.firstRegister
        for selector in selectors {
            load(selector, into: register)
            register += UInt32(selector.wire.paddedLength / 4)
        }
        return Self.firstRegister
    }

    private mutating func anonymousSet(_ selector: NFTSelector, _ values: [NFTValue]) -> NFTAnonymousSet {
        let wire = selector.wire
        let interval = values.contains { value in
            switch value {
            case .range: true
            case .address(let r): r.lower != r.upper
            default: false
            }
        }
        var elements: [NFTWireElement] = []
        for value in values {
            switch value {
            case .range(let lo, let hi) where interval:
                elements += Self.interval(wire.bytes(lo), end: hi < wire.maxInteger ? wire.bytes(hi + 1) : nil)
            case .integer(let n) where interval:
                elements += Self.interval(wire.bytes(n), end: n < wire.maxInteger ? wire.bytes(n + 1) : nil)
            case .address(let r) where interval:
                elements += Self.interval(NFTWire.address(r.lower), end: NFTWire.successor(r.upper).map(NFTWire.address))
            default:
                elements.append(NFTWireElement(key: selector.bytes(value)!))
            }
        }
        return NFTAnonymousSet(id: nextSetID(), keyType: selector.nftTypeID, keyLength: wire.length, interval: interval, elements: elements)
    }

    /// An interval as the kernel's rbtree sets take it: the start, and the
    /// end flagged INTERVAL_END one past the last value (none at the top).
    static func interval(_ start: [UInt8], end: [UInt8]?) -> [NFTWireElement] {
        var out = [NFTWireElement(key: start)]
        if let end { out.append(NFTWireElement(key: end, flags: UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue))) }
        return out
    }

    // MARK: - statements and verdicts

    private mutating func statement(_ statement: NFTStatement) {
        let register = Self.firstRegister
        switch statement {
        case .counter:
            expression("counter") { _ in }
        case .limit(let rate, let burst):
            expression("limit") { e in
                nftnl_expr_set_u64(e, UInt16(NFTNL_EXPR_LIMIT_RATE), UInt64(rate))
                nftnl_expr_set_u64(e, UInt16(NFTNL_EXPR_LIMIT_UNIT), 1)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LIMIT_BURST), burst)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LIMIT_TYPE), UInt32(NFT_LIMIT_PKTS.rawValue))
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LIMIT_FLAGS), 0)
            }
        case .log(let group, let prefix):
            expression("log") { e in
                nftnl_expr_set_u16(e, UInt16(NFTNL_EXPR_LOG_GROUP), group)
                nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOG_PREFIX), prefix)
            }
        case .notrack:
            expression("notrack") { _ in }
        case .setMark(let value):
            switch value {
            case .constant(let mark):
                immediate(register, data: NFTSelector.mark(mask: nil).wire.bytes(UInt64(mark)))
            case .or(let bits):
                let wire = NFTSelector.mark(mask: nil).wire
                load(.mark(mask: nil), into: register)
                bitwise(register, mask: wire.bytes(UInt64(~bits)), xor: wire.bytes(UInt64(bits)))
            case .and(let mask):
                let wire = NFTSelector.mark(mask: nil).wire
                load(.mark(mask: nil), into: register)
                bitwise(register, mask: wire.bytes(UInt64(mask)), xor: wire.bytes(0))
            case .map(let selector, let map):
                load(selector, into: register)
                lookup(register, map: map, into: register)
            }
            expression("meta") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_KEY), NFT_META_MARK.rawValue)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_SREG), register)
            }
        case .setCTZone(let selector, let map):
            load(selector, into: register)
            lookup(register, map: map, into: register)
            expression("ct") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CT_KEY), NFT_CT_ZONE.rawValue)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CT_SREG), register)
            }
        }
    }

    private mutating func verdict(_ verdict: NFTVerdict) {
        if case .vmap(let selector, let map) = verdict {
            load(selector, into: Self.firstRegister)
            lookup(Self.firstRegister, map: map, into: Self.verdictRegister)
            return
        }
        expression("immediate") { e in
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_DREG), Self.verdictRegister)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: verdict.code))
            if let chain = verdict.target { nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_IMM_CHAIN), chain) }
        }
    }

    // MARK: - expressions

    private func load(_ selector: NFTSelector, into register: UInt32) {
        let load = selector.load
        switch load.source {
        case .meta(let key):
            expression("meta") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_KEY), key)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_DREG), register)
            }
        case .ct(let key):
            expression("ct") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CT_KEY), key)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CT_DREG), register)
            }
        case .payload(let base, let offset, let length):
            expression("payload") { e in
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_BASE), base)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_LEN), length)
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_DREG), register)
            }
        }
        if let mask = load.mask {
            bitwise(register, mask: mask, xor: [UInt8](repeating: 0, count: mask.count))
        }
    }

    private func cmp(_ register: UInt32, _ op: nft_cmp_ops, _ data: [UInt8]) {
        expression("cmp") { e in
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CMP_SREG), register)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CMP_OP), op.rawValue)
            Self.setData(e, NFTNL_EXPR_CMP_DATA, data)
        }
    }

    private func range(_ register: UInt32, equal: Bool, from: [UInt8], to: [UInt8]) {
        expression("range") { e in
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_RANGE_SREG), register)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_RANGE_OP), (equal ? NFT_RANGE_EQ : NFT_RANGE_NEQ).rawValue)
            Self.setData(e, NFTNL_EXPR_RANGE_FROM_DATA, from)
            Self.setData(e, NFTNL_EXPR_RANGE_TO_DATA, to)
        }
    }

    private func bitwise(_ register: UInt32, mask: [UInt8], xor: [UInt8]) {
        expression("bitwise") { e in
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_BITWISE_SREG), register)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_BITWISE_DREG), register)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_BITWISE_LEN), UInt32(mask.count))
            Self.setData(e, NFTNL_EXPR_BITWISE_MASK, mask)
            Self.setData(e, NFTNL_EXPR_BITWISE_XOR, xor)
        }
    }

    private func immediate(_ register: UInt32, data: [UInt8]) {
        expression("immediate") { e in
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_DREG), register)
            Self.setData(e, NFTNL_EXPR_IMM_DATA, data)
        }
    }

    private func lookup(_ register: UInt32, map: String, into destination: UInt32) {
        expression("lookup") { e in
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SREG), register)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_DREG), destination)
            nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOOKUP_SET), map)
        }
    }

    private func expression(_ name: String, _ configure: (OpaquePointer) -> Void) {
        let e = nftnl_expr_alloc(name)!
        configure(e)
        nftnl_rule_add_expr(rule, e)
    }

    static func setData(_ expression: OpaquePointer, _ attribute: Int, _ data: [UInt8]) {
        data.withUnsafeBytes { _ = nftnl_expr_set(expression, UInt16(attribute), $0.baseAddress, UInt32($0.count)) }
    }
}

extension NFTVerdict {
    /// The kernel's verdict code (NF_ACCEPT, NFT_JUMP, ...).
    var code: Int32 {
        switch self {
        case .accept: Int32(NF_ACCEPT)
        case .drop: Int32(NF_DROP)
        case .return: NFT_RETURN.rawValue
        case .jump: NFT_JUMP.rawValue
        case .goto: NFT_GOTO.rawValue
        case .vmap: preconditionFailure("a verdict map has no verdict code")
        }
    }

    init?(code: Int32, chain: String?) {
        switch code {
        case Int32(NF_ACCEPT): self = .accept
        case Int32(NF_DROP): self = .drop
        case NFT_RETURN.rawValue: self = .return
        case NFT_JUMP.rawValue:
            guard let chain else { return nil }
            self = .jump(chain)
        case NFT_GOTO.rawValue:
            guard let chain else { return nil }
            self = .goto(chain)
        default: return nil
        }
    }
}

extension NFTWire {
    var maxInteger: UInt64 { length >= 8 ? .max : (UInt64(1) << UInt64(8 * length)) - 1 }
}
