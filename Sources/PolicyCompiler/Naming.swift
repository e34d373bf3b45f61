import PolicyModel

/// Names of everything the project creates in a host's kernel. They are
/// derived from the policy alone (stable across compilations, so diffs stay
/// small) and readable in `nft list ruleset` and `ip link`.
public enum Naming {
    /// Both tables (bridge and inet family) carry this name.
    public static let table = "secgroups"

    /// Every bridge the project owns starts with this prefix; the inet chains
    /// use it to leave traffic of other bridges alone.
    public static let bridgePrefix = "sgbr-"
    /// The VLAN-aware bridge that carries all VLAN networks of a host.
    public static let vlanBridge = "sgbr-vlan"
    /// Every VXLAN device the project owns starts with this prefix.
    public static let vxlanPrefix = "sgvx-"

    public static func bridge(vni: UInt32) -> String { "sgbr-\(vni)" }
    public static func vxlanDevice(vni: UInt32) -> String { "\(vxlanPrefix)\(vni)" }

    /// Group chains hold one security group's rules for one direction.
    public static func groupChain(_ group: String, _ direction: Direction) -> String {
        "sg/\(group)/\(direction.rawValue)"
    }

    /// Port chains hold what belongs to one filtered port: the jump to its
    /// profile and its own default drop (counted per port, logged when the
    /// port asks for it): `port/tap-vm1/egress`. Device names have no "/".
    public static func portChain(device: String, _ direction: Direction) -> String {
        "port/\(device)/\(direction.rawValue)"
    }

    /// The comment of a port chain's last rule, the port's default drop.
    public static let defaultDropComment = "no rule of the port's groups allows it"

    /// Sets of the addresses of a group's members, for remote-group rules.
    public static func remoteSet(_ group: String, _ family: IPFamily) -> String {
        "remote/\(group)/\(family.rawValue)"
    }

    /// Profile chains are shared by all ports of a host with the same groups:
    /// `profile/web/bastion/ingress`. Chain names are limited to 256 bytes in
    /// the kernel; very long group lists fall back to a hash of the list.
    public static func profileChain(_ groups: [String], _ direction: Direction) -> String {
        let joined = groups.joined(separator: "/")
        let body = joined.utf8.count <= 200 ? joined : "h" + String(StableHash.fnv1a(joined), radix: 16)
        return groups.isEmpty ? "profile/\(direction.rawValue)" : "profile/\(body)/\(direction.rawValue)"
    }
}

/// FNV-1a: a fixed, platform-independent hash (Swift's Hasher is seeded per
/// process, which would make names and slots differ between runs). Not
/// for security.
public enum StableHash {
    public static func fnv1a(_ text: String) -> UInt64 { fnv1a(text.utf8) }

    public static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}
