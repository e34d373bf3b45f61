import PolicyModel

/// How the bridge-family chains tell the inet chains which port a packet
/// belongs to.
///
/// On kernels without bridge conntrack the stateful filtering has to happen
/// in the inet hooks that br_netfilter runs for bridged IP packets, and there
/// `iifname`/`oifname` are the bridge, never the port (kernel-notes.md). So a
/// bridge chain that runs before br_netfilter (priority below 0) writes the
/// port into `meta mark`:
///
/// * bridge prerouting (-300) sets, from the input port,
///   `slot << 17 | untracked << 16 | zone`: the inet raw chain sets the
///   conntrack zone (a network's flows are tracked apart from other
///   networks' identical 5-tuples) and skips conntrack for untracked
///   packets. The untracked bit comes with the sender (a port in stateless
///   groups or without port security, a tunnel, the trunk), and is cleared
///   again when the receiver is a local port in stateful groups: a packet
///   is tracked when either end on the host reads the connection state;
///   the inet egress chain (prerouting, after conntrack) dispatches on the
///   slot to the sending port's checks.
/// * bridge forward (-200) sets, from the output port, `1 << 31 | slot`: the
///   inet ingress chain (forward) dispatches on it to the receiving port's
///   checks.
///
/// Bit 31 keeps the two layouts apart, so a packet leaving through a port
/// without a slot (the uplink) never matches an ingress entry.
public enum PacketMark {
    public static let zoneMask: UInt32 = 0x0000_ffff
    public static let untrackedBit: UInt32 = 0x0001_0000
    public static let sourceSlotMask: UInt32 = 0x7ffe_0000
    public static let sourceSlotShift: UInt32 = 17
    public static let destinationBit: UInt32 = 0x8000_0000

    /// The comment of the bridge prerouting rule that clears the untracked
    /// bit of packets to a stateful port (trace explains with it).
    public static let toStatefulPortComment = "to a stateful port: tracked"

    /// Slots are 14 bits; 0 means "no port checks".
    public static let slots: ClosedRange<Int> = 1...0x3fff

    public static func source(slot: Int?, untracked: Bool, zone: UInt16) -> UInt32 {
        UInt32(slot ?? 0) << sourceSlotShift | (untracked ? untrackedBit : 0) | UInt32(zone)
    }

    public static func sourceKey(slot: Int) -> UInt32 { UInt32(slot) << sourceSlotShift }
    public static func destination(slot: Int) -> UInt32 { destinationBit | UInt32(slot) }
}

/// Assigns small numbers (port slots, conntrack zones) that must be stable:
/// when they shift, every entry that carries them changes. Each item starts
/// at a place derived from its own name and probes forward past taken
/// numbers, so adding or removing one item moves no other item unless they
/// collide, which at the loads seen here is rare.
enum StableAllocator {
    static func assign(_ names: [String], in range: ClosedRange<Int>, preferred: (String) -> Int) -> [String: Int]? {
        guard names.count <= range.count else { return nil }
        var taken = Set<Int>()
        var result: [String: Int] = [:]
        result.reserveCapacity(names.count)
        for name in names.sorted() {
            var n = preferred(name)
            while taken.contains(n) { n = n == range.upperBound ? range.lowerBound : n + 1 }
            taken.insert(n)
            result[name] = n
        }
        return result
    }

    static func slots(for ports: [String]) -> [String: Int]? {
        let range = PacketMark.slots
        return assign(ports, in: range) { range.lowerBound + Int(StableHash.fnv1a($0) % UInt64(range.count)) }
    }

    /// Conntrack zones: a VLAN network uses its VLAN id; a VXLAN network a
    /// number above 4095 derived from its VNI.
    static func zones(for networks: [Network]) -> [String: UInt16] {
        var zones: [String: UInt16] = [:]
        var vxlan: [(String, UInt32)] = []
        for network in networks {
            switch network.segment {
            case .vlan(let id): zones[network.name] = id
            case .vxlan(let vni): vxlan.append((network.name, vni))
            }
        }
        var taken = Set(zones.values)
        for (name, vni) in vxlan.sorted(by: { $0.1 < $1.1 }) {
            var z = UInt16(4096 + Int(vni % 61440))
            while taken.contains(z) { z = z == UInt16.max ? 4096 : z + 1 }
            taken.insert(z)
            zones[name] = z
        }
        return zones
    }
}
