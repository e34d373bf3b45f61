import CNetlink
import HostModel
import PolicyModel

/// One kernel expression of a dumped rule, copied out of libnftnl.
enum NFTExpression: Hashable {
    case meta(key: UInt32, dreg: UInt32?, sreg: UInt32?)
    case ct(key: UInt32, dreg: UInt32?, sreg: UInt32?)
    case payload(NFTLoad.Source, dreg: UInt32)
    case cmp(sreg: UInt32, op: UInt32, data: [UInt8])
    case range(sreg: UInt32, op: UInt32, from: [UInt8], to: [UInt8])
    case bitwise(sreg: UInt32, dreg: UInt32, mask: [UInt8], xor: [UInt8])
    case lookup(sreg: UInt32, dreg: UInt32?, set: String, inverted: Bool)
    case immediate(dreg: UInt32, data: [UInt8]?, verdict: Int32?, chain: String?)
    case counter, notrack
    case limit(rate: UInt64, unit: UInt64, burst: UInt32, type: UInt32, flags: UInt32)
    /// A log without a group logs to syslog: not one the compiler writes.
    case log(group: UInt16?, prefix: String?)
    case other(String)

    init(_ e: OpaquePointer) {
        func u32(_ a: Int) -> UInt32? {
            nftnl_expr_is_set(e, UInt16(a)) ? nftnl_expr_get_u32(e, UInt16(a)) : nil
        }
        func data(_ a: Int) -> [UInt8]? {
            guard nftnl_expr_is_set(e, UInt16(a)) else { return nil }
            var length: UInt32 = 0
            guard let p = nftnl_expr_get(e, UInt16(a), &length) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(length)))
        }
        func string(_ a: Int) -> String? {
            nftnl_expr_is_set(e, UInt16(a)) ? nftnl_expr_get_str(e, UInt16(a)).map { String(cString: $0) } : nil
        }
        let name = String(cString: nftnl_expr_get_str(e, UInt16(NFTNL_EXPR_NAME)))
        switch name {
        case "meta":
            self = .meta(key: u32(NFTNL_EXPR_META_KEY) ?? 0, dreg: u32(NFTNL_EXPR_META_DREG), sreg: u32(NFTNL_EXPR_META_SREG))
        case "ct":
            self = .ct(key: u32(NFTNL_EXPR_CT_KEY) ?? 0, dreg: u32(NFTNL_EXPR_CT_DREG), sreg: u32(NFTNL_EXPR_CT_SREG))
        case "payload":
            self = .payload(
                .payload(base: u32(NFTNL_EXPR_PAYLOAD_BASE) ?? 0, offset: u32(NFTNL_EXPR_PAYLOAD_OFFSET) ?? 0,
                         length: u32(NFTNL_EXPR_PAYLOAD_LEN) ?? 0),
                dreg: u32(NFTNL_EXPR_PAYLOAD_DREG) ?? 0)
        case "cmp":
            self = .cmp(sreg: u32(NFTNL_EXPR_CMP_SREG) ?? 0, op: u32(NFTNL_EXPR_CMP_OP) ?? 0, data: data(NFTNL_EXPR_CMP_DATA) ?? [])
        case "range":
            self = .range(
                sreg: u32(NFTNL_EXPR_RANGE_SREG) ?? 0, op: u32(NFTNL_EXPR_RANGE_OP) ?? 0,
                from: data(NFTNL_EXPR_RANGE_FROM_DATA) ?? [], to: data(NFTNL_EXPR_RANGE_TO_DATA) ?? [])
        case "bitwise":
            self = .bitwise(
                sreg: u32(NFTNL_EXPR_BITWISE_SREG) ?? 0, dreg: u32(NFTNL_EXPR_BITWISE_DREG) ?? 0,
                mask: data(NFTNL_EXPR_BITWISE_MASK) ?? [], xor: data(NFTNL_EXPR_BITWISE_XOR) ?? [])
        case "lookup":
            self = .lookup(
                sreg: u32(NFTNL_EXPR_LOOKUP_SREG) ?? 0, dreg: u32(NFTNL_EXPR_LOOKUP_DREG),
                set: string(NFTNL_EXPR_LOOKUP_SET) ?? "",
                inverted: (u32(NFTNL_EXPR_LOOKUP_FLAGS) ?? 0) & UInt32(NFT_LOOKUP_F_INV.rawValue) != 0)
        case "immediate":
            self = .immediate(
                dreg: u32(NFTNL_EXPR_IMM_DREG) ?? 0, data: data(NFTNL_EXPR_IMM_DATA),
                verdict: u32(NFTNL_EXPR_IMM_VERDICT).map { Int32(bitPattern: $0) }, chain: string(NFTNL_EXPR_IMM_CHAIN))
        case "counter": self = .counter
        case "limit":
            self = .limit(
                rate: nftnl_expr_is_set(e, UInt16(NFTNL_EXPR_LIMIT_RATE)) ? nftnl_expr_get_u64(e, UInt16(NFTNL_EXPR_LIMIT_RATE)) : 0,
                unit: nftnl_expr_is_set(e, UInt16(NFTNL_EXPR_LIMIT_UNIT)) ? nftnl_expr_get_u64(e, UInt16(NFTNL_EXPR_LIMIT_UNIT)) : 0,
                burst: u32(NFTNL_EXPR_LIMIT_BURST) ?? 0, type: u32(NFTNL_EXPR_LIMIT_TYPE) ?? 0, flags: u32(NFTNL_EXPR_LIMIT_FLAGS) ?? 0)
        case "log":
            self = .log(
                group: nftnl_expr_is_set(e, UInt16(NFTNL_EXPR_LOG_GROUP)) ? nftnl_expr_get_u16(e, UInt16(NFTNL_EXPR_LOG_GROUP)) : nil,
                prefix: string(NFTNL_EXPR_LOG_PREFIX))
        case "notrack": self = .notrack
        default: self = .other(name)
        }
    }
}

/// What the decoder needs to know about the sets a rule refers to.
protocol NFTSetDirectory {
    /// The values of an anonymous set, read with `selector`'s layout.
    func anonymousValues(_ name: String, selector: NFTSelector) -> [NFTValue]?
    /// How many components a named set's key has.
    func keyCount(_ name: String) -> Int?
}

/// Reads a rule's expressions back into the IR: the inverse of
/// `NFTRuleEncoder`. Anything it doesn't recognise (a rule someone added by
/// hand, a newer encoding) makes it fail, and the caller records the chain
/// as unrecognised so the next apply replaces it.
struct NFTRuleDecoder {
    struct Unrecognized: Error, CustomStringConvertible {
        var description: String
    }

    /// What a register holds at this point of the rule.
    private enum Register {
        case loaded(NFTLoad)
        case constant([UInt8])
        /// `meta mark | bits`, ready to be stored.
        case markOr(UInt32)
        /// The data a map lookup found.
        case mapped(NFTSelector, String)
    }

    private var registers: [Int: Register] = [:]
    private var matches: [NFTMatch] = []
    private var statements: [NFTStatement] = []
    private var verdict: NFTVerdict?
    private var l4proto: UInt64?
    private let sets: any NFTSetDirectory

    static func decode(_ expressions: [NFTExpression], comment: String?, sets: any NFTSetDirectory) throws(Unrecognized) -> NFTRule {
        var decoder = NFTRuleDecoder(sets: sets)
        for expression in expressions { try decoder.step(expression) }
        return NFTRule(decoder.matches, statements: decoder.statements, verdict: decoder.verdict, comment: comment)
    }

    private init(sets: any NFTSetDirectory) { self.sets = sets }

    /// Registers as 32-bit slots: `NFT_REG_1`..`4` are 16-byte registers
    /// aliasing the `NFT_REG32_*` slots four at a time.
    private static func slot(_ register: UInt32) -> Int {
        register >= 8 ? Int(register) - 8 : (Int(register) - 1) * 4
    }

    private mutating func step(_ expression: NFTExpression) throws(Unrecognized) {
        switch expression {
        case .meta(let key, let dreg?, nil):
            registers[Self.slot(dreg)] = .loaded(NFTLoad(source: .meta(key)))
        case .ct(let key, let dreg?, nil):
            registers[Self.slot(dreg)] = .loaded(NFTLoad(source: .ct(key)))
        case .payload(let source, let dreg):
            registers[Self.slot(dreg)] = .loaded(NFTLoad(source: source))
        case .bitwise(let sreg, let dreg, let mask, let xor) where sreg == dreg:
            guard case .loaded(var load)? = registers[Self.slot(sreg)], load.mask == nil else { throw unrecognized(expression) }
            if xor.allSatisfy({ $0 == 0 }) {
                load.mask = mask
                registers[Self.slot(sreg)] = .loaded(load)
            } else if load.source == .meta(NFT_META_MARK.rawValue), mask.count == 4, xor.count == 4 {
                let wire = NFTSelector.mark(mask: nil).wire
                let bits = UInt32(wire.integer(xor[...]))
                guard UInt32(wire.integer(mask[...])) == ~bits else { throw unrecognized(expression) }
                registers[Self.slot(sreg)] = .markOr(bits)
            } else {
                throw unrecognized(expression)
            }
        case .cmp(let sreg, let op, let data):
            try compare(sreg, op: op, data: data, expression)
        case .range(let sreg, let op, let from, let to):
            let (selector, _) = try selector(sreg, expression)
            let compare: NFTCompare = op == NFT_RANGE_EQ.rawValue ? .equal : .notEqual
            switch selector.wire {
            case .ipv4, .ipv6:
                let lower = NFTWire.address(from[...]), upper = NFTWire.address(to[...])
                guard lower <= upper else { throw unrecognized(expression) }
                matches.append(.compare(selector, compare, .address(IPRange(lower: lower, upper: upper))))
            case .integer:
                matches.append(.compare(selector, compare, .range(selector.wire.integer(from[...]), selector.wire.integer(to[...]))))
            default:
                throw unrecognized(expression)
            }
        case .lookup(let sreg, let dreg, let set, let inverted):
            try lookup(sreg: sreg, dreg: dreg, set: set, inverted: inverted, expression)
        case .immediate(0, _, let code?, let chain):
            guard verdict == nil, let v = NFTVerdict(code: code, chain: chain) else { throw unrecognized(expression) }
            verdict = v
        case .immediate(let dreg, let data?, nil, _):
            registers[Self.slot(dreg)] = .constant(data)
        case .meta(NFT_META_MARK.rawValue, nil, let sreg?):
            switch registers[Self.slot(sreg)] {
            case .constant(let bytes)? where bytes.count == 4:
                statements.append(.setMark(.constant(UInt32(NFTSelector.mark(mask: nil).wire.integer(bytes[...])))))
            case .markOr(let bits)?:
                statements.append(.setMark(.or(bits)))
            case .loaded(let load)? where load.source == .meta(NFT_META_MARK.rawValue) && load.mask?.count == 4:
                // `meta mark & mask` stored back: the bitwise step left a masked load.
                statements.append(.setMark(.and(UInt32(NFTSelector.mark(mask: nil).wire.integer(load.mask![...])))))
            case .mapped(let selector, let map)?:
                statements.append(.setMark(.map(selector, map)))
            default:
                throw unrecognized(expression)
            }
        case .ct(NFT_CT_ZONE.rawValue, nil, let sreg?):
            guard case .mapped(let selector, let map)? = registers[Self.slot(sreg)] else { throw unrecognized(expression) }
            statements.append(.setCTZone(selector, map: map))
        case .counter:
            statements.append(.counter)
        case .limit(let rate, 1, let burst, UInt32(NFT_LIMIT_PKTS.rawValue), 0) where rate <= UInt32.max:
            statements.append(.limit(perSecond: UInt32(rate), burst: burst))
        case .log(let group?, let prefix):
            statements.append(.log(group: group, prefix: prefix ?? ""))
        case .notrack:
            statements.append(.notrack)
        default:
            throw unrecognized(expression)
        }
    }

    private mutating func compare(_ sreg: UInt32, op: UInt32, data: [UInt8], _ expression: NFTExpression) throws(Unrecognized) {
        let (selector, mask) = try selector(sreg, expression)
        let equal = op == NFT_CMP_EQ.rawValue
        guard equal || op == NFT_CMP_NEQ.rawValue else { throw unrecognized(expression) }
        let compare: NFTCompare = equal ? .equal : .notEqual
        if selector == .ctState, let mask, !equal, data.allSatisfy({ $0 == 0 }) {
            // `ct state a,b`: any of the masked state bits.
            let bits = selector.wire.integer(mask[...])
            let values = (0..<32).map { UInt64(1) << UInt64($0) }.filter { bits & $0 != 0 }.map(NFTValue.integer)
            matches.append(.anyOf(.ctState, values))
            return
        }
        let value: NFTValue
        switch selector.wire {
        case .ifname:
            let name = NFTWire.ifname(data[...])
            value = data.count == 16 ? .ifname(name) : .ifnamePrefix(name)
        case .ether:
            value = .mac(NFTWire.mac(data[...]))
        case .ipv4, .ipv6:
            let address = NFTWire.address(data[...])
            if let mask {
                let length = mask.reduce(0) { $0 + $1.nonzeroBitCount }
                guard let prefix = IPPrefix(address: address, length: length) else { throw unrecognized(expression) }
                value = .address(IPRange(prefix))
            } else {
                value = .address(IPRange(lower: address, upper: address))
            }
        case .integer:
            value = .integer(selector.wire.integer(data[...]))
            if selector == .l4proto, equal { l4proto = selector.wire.integer(data[...]) }
        }
        matches.append(.compare(selector, compare, value))
    }

    private mutating func lookup(
        sreg: UInt32, dreg: UInt32?, set: String, inverted: Bool, _ expression: NFTExpression
    ) throws(Unrecognized) {
        if let dreg {
            let (selector, _) = try selector(sreg, expression)
            if dreg == 0 {
                guard verdict == nil else { throw unrecognized(expression) }
                verdict = .vmap(selector, set)
            } else {
                registers[Self.slot(dreg)] = .mapped(selector, set)
            }
            return
        }
        if set.hasPrefix("__set") {
            let (selector, _) = try selector(sreg, expression)
            guard !inverted, let values = sets.anonymousValues(set, selector: selector) else { throw unrecognized(expression) }
            matches.append(.anyOf(selector, values))
            return
        }
        guard let count = sets.keyCount(set) else { throw unrecognized(expression) }
        var selectors: [NFTSelector] = []
        var slot = Self.slot(sreg)
        for _ in 0..<count {
            guard case .loaded(let load)? = registers[slot], let selector = NFTSelector(load: load, l4proto: l4proto) else {
                throw unrecognized(expression)
            }
            selectors.append(selector)
            slot += selector.wire.paddedLength / 4
        }
        matches.append(.lookup(selectors, inverted ? .notEqual : .equal, set: set))
    }

    /// The selector loaded in a register, and the mask that remains for the
    /// comparison (address prefixes, ct state bits) once the selector's own
    /// mask (`vlan id`, `meta mark & m`) is accounted for.
    private func selector(_ register: UInt32, _ expression: NFTExpression) throws(Unrecognized) -> (NFTSelector, [UInt8]?) {
        guard case .loaded(let load)? = registers[Self.slot(register)] else { throw unrecognized(expression) }
        if let selector = NFTSelector(load: load, l4proto: l4proto) { return (selector, nil) }
        var bare = load
        bare.mask = nil
        if let selector = NFTSelector(load: bare, l4proto: l4proto), selector.wire == .ipv4 || selector.wire == .ipv6 || selector == .ctState {
            return (selector, load.mask)
        }
        throw unrecognized(expression)
    }

    private func unrecognized(_ expression: NFTExpression) -> Unrecognized {
        Unrecognized(description: "unrecognised expression \(expression)")
    }
}
