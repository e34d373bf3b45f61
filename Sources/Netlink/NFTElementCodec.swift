import CNetlink
import HostModel
import PolicyModel

/// Set elements between the IR and the kernel's layout. Three layouts:
/// plain keys (hash sets), ranges of one field (rbtree: a start, and an end
/// flagged INTERVAL_END one past the range), and concatenations with a range
/// in them (pipapo: the key's first and last value).
enum NFTElementCodec {
    static func encode(_ element: NFTElement, _ definition: NFTSet.Definition) -> [NFTWireElement] {
        let types = definition.key
        var data: [UInt8]?
        var verdict: NFTVerdict?
        switch element.data {
        case .mark(let m)?: data = NFTDataType.mark.wire.bytes(UInt64(m))
        case .zone(let z)?: data = NFTDataType.ctZone.wire.bytes(UInt64(z))
        case .verdict(let v)?: verdict = v
        case nil: break
        }
        if definition.interval && types.count == 1 {
            let (lower, upper) = bounds(element.key[0], types[0])
            var start = NFTWireElement(key: lower, data: data, verdict: verdict)
            start.flags = 0
            var out = [start]
            if let end = successor(upper, types[0]) {
                out.append(NFTWireElement(key: end, flags: UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)))
            }
            return out
        }
        var key: [UInt8] = []
        var keyEnd: [UInt8] = []
        for (atom, type) in zip(element.key, types) {
            let (lower, upper) = bounds(atom, type)
            let padding = [UInt8](repeating: 0, count: types.count > 1 ? type.wire.paddedLength - lower.count : 0)
            key += lower + padding
            keyEnd += upper + padding
        }
        return [NFTWireElement(key: key, keyEnd: definition.interval ? keyEnd : nil, data: data, verdict: verdict)]
    }

    /// The first and last value of one key component, in wire bytes.
    private static func bounds(_ atom: NFTAtom, _ type: NFTDataType) -> ([UInt8], [UInt8]) {
        switch atom {
        case .integer(let n):
            let bytes = type.wire.bytes(UInt64(n))
            return (bytes, bytes)
        case .ifname(let name):
            let bytes = NFTWire.ifname(name)
            return (bytes, bytes)
        case .mac(let mac):
            let bytes = NFTWire.mac(mac)
            return (bytes, bytes)
        case .address(let range):
            return (NFTWire.address(range.lower), NFTWire.address(range.upper))
        }
    }

    private static func successor(_ bytes: [UInt8], _ type: NFTDataType) -> [UInt8]? {
        switch type.wire {
        case .ipv4, .ipv6: NFTWire.successor(NFTWire.address(bytes[...])).map(NFTWire.address)
        case .integer:
            type.wire.integer(bytes[...]) < type.wire.maxInteger ? type.wire.bytes(type.wire.integer(bytes[...]) + 1) : nil
        default: nil
        }
    }

    // MARK: - decoding

    /// The elements of a named set, from the kernel's dump. Nil when some
    /// element doesn't fit the definition (the caller treats the set as
    /// foreign, so the next apply rebuilds it).
    static func decode(_ wire: [NFTWireElement], _ definition: NFTSet.Definition) -> Set<NFTElement>? {
        let types = definition.key
        var out = Set<NFTElement>()
        if definition.interval && types.count == 1 {
            for (start, end) in pairIntervals(wire) {
                guard let lower = atomBytes(start.key[...], types[0]) else { return nil }
                let atom: NFTAtom
                switch lower {
                case .address(let r):
                    let upper = end.map { NFTWire.predecessor(NFTWire.address($0[...])) } ?? maxAddress(r.lower.family)
                    guard r.lower <= upper else { return nil }
                    atom = .address(IPRange(lower: r.lower, upper: upper))
                default:
                    atom = lower
                }
                guard let data = decodeData(start, definition) else { return nil }
                out.insert(NFTElement([atom], data: data))
            }
            return out
        }
        for element in wire {
            var atoms: [NFTAtom] = []
            var offset = 0
            for type in types {
                let width = types.count > 1 ? type.wire.paddedLength : type.wire.length
                guard element.key.count >= offset + type.wire.length else { return nil }
                let field = element.key[offset..<(offset + type.wire.length)]
                guard var atom = atomBytes(field, type) else { return nil }
                if definition.interval, case .address(let r) = atom {
                    guard let end = element.keyEnd, end.count >= offset + type.wire.length else { return nil }
                    let upper = NFTWire.address(end[offset..<(offset + type.wire.length)])
                    guard r.lower <= upper else { return nil }
                    atom = .address(IPRange(lower: r.lower, upper: upper))
                }
                atoms.append(atom)
                offset += width
            }
            guard let data = decodeData(element, definition) else { return nil }
            out.insert(NFTElement(atoms, data: data))
        }
        return out
    }

    /// The values of an anonymous set, read as `selector` values, sorted.
    static func decodeAnonymous(_ wire: [NFTWireElement], interval: Bool, selector: NFTSelector) -> [NFTValue]? {
        var values: [NFTValue] = []
        if interval {
            for (start, end) in pairIntervals(wire) {
                switch selector.wire {
                case .ipv4, .ipv6:
                    let lower = NFTWire.address(start.key[...])
                    let upper = end.map { NFTWire.predecessor(NFTWire.address($0[...])) } ?? maxAddress(lower.family)
                    values.append(.address(IPRange(lower: lower, upper: upper)))
                case .integer:
                    let lower = selector.wire.integer(start.key[...])
                    let upper = end.map { selector.wire.integer($0[...]) - 1 } ?? selector.wire.maxInteger
                    values.append(lower == upper ? .integer(lower) : .range(lower, upper))
                default:
                    return nil
                }
            }
        } else {
            for element in wire {
                switch selector.wire {
                case .integer: values.append(.integer(selector.wire.integer(element.key[...])))
                case .ifname: values.append(.ifname(NFTWire.ifname(element.key[...])))
                case .ether: values.append(.mac(NFTWire.mac(element.key[...])))
                case .ipv4, .ipv6:
                    let a = NFTWire.address(element.key[...])
                    values.append(.address(IPRange(lower: a, upper: a)))
                }
            }
        }
        return values.sorted(by: NFTValue.ascending)
    }

    /// Interval starts with their ends (nil: open to the top), in order.
    /// Ends without a start (nft's leading `0.0.0.0` end marker) are skipped.
    private static func pairIntervals(_ wire: [NFTWireElement]) -> [(NFTWireElement, [UInt8]?)] {
        let endFlag = UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)
        // At equal keys an end sorts before a start: it closes the range below.
        let sorted = wire.sorted { a, b in
            a.key != b.key ? a.key.lexicographicallyPrecedes(b.key) : (a.flags & endFlag) > (b.flags & endFlag)
        }
        var out: [(NFTWireElement, [UInt8]?)] = []
        var open: NFTWireElement?
        for element in sorted {
            if element.flags & endFlag != 0 {
                if let start = open { out.append((start, element.key)) }
                open = nil
            } else {
                if let start = open { out.append((start, nil)) }
                open = element
            }
        }
        if let start = open { out.append((start, nil)) }
        return out
    }

    private static func atomBytes(_ bytes: ArraySlice<UInt8>, _ type: NFTDataType) -> NFTAtom? {
        guard bytes.count == type.wire.length else { return nil }
        switch type.wire {
        case .integer: return .integer(UInt32(truncatingIfNeeded: type.wire.integer(bytes)))
        case .ifname: return .ifname(NFTWire.ifname(bytes))
        case .ether: return .mac(NFTWire.mac(bytes))
        case .ipv4, .ipv6:
            let a = NFTWire.address(bytes)
            return .address(IPRange(lower: a, upper: a))
        }
    }

    /// The element's data as the IR has it: `.some(nil)` for plain sets.
    private static func decodeData(_ element: NFTWireElement, _ definition: NFTSet.Definition) -> NFTElementData?? {
        switch definition.data {
        case nil: return .some(nil)
        case .verdict?: return element.verdict.map { .some(.verdict($0)) }
        case .mark?:
            guard let data = element.data, data.count == 4 else { return nil }
            return .some(.mark(UInt32(NFTDataType.mark.wire.integer(data[...]))))
        case .ctZone?:
            guard let data = element.data, data.count == 2 else { return nil }
            return .some(.zone(UInt16(NFTDataType.ctZone.wire.integer(data[...]))))
        default:
            return nil
        }
    }

    private static func maxAddress(_ family: IPFamily) -> IPAddress {
        family == .ipv4 ? .v4(IPv4Address(rawValue: .max)) : .v6(IPv6Address(rawValue: .max))
    }
}

extension NFTValue {
    /// The order anonymous-set values are read back in (and the compiler
    /// writes them in): by their first value.
    static func ascending(_ a: NFTValue, _ b: NFTValue) -> Bool {
        func key(_ v: NFTValue) -> (Int, UInt128, String) {
            switch v {
            case .integer(let n): (0, UInt128(n), "")
            case .range(let lo, _): (0, UInt128(lo), "")
            case .ifname(let s), .ifnamePrefix(let s): (1, 0, s)
            case .mac(let m): (2, UInt128(m.rawValue), "")
            case .address(let r): (3, r.lower.wideNumber, "")
            }
        }
        return key(a) < key(b)
    }
}

extension IPAddress {
    var wideNumber: UInt128 {
        switch self {
        case .v4(let a): UInt128(a.rawValue)
        case .v6(let a): a.rawValue
        }
    }
}
