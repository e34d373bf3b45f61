import PolicyModel

/// The iptables ruleset OpenStack Neutron's iptables firewall driver
/// (`iptables_hybrid`, neutron/agent/linux/iptables_firewall.py) would
/// write for one host's ports: the linear baseline of the benchmarks.
///
/// Layout, as Neutron writes it (chain prefix `neutron-openvswi-`):
///
/// * raw `PREROUTING` → `neutron-openvswi-PREROUTING`: per port
///   `-m physdev --physdev-in DEV -j CT --zone Z` (conntrack zone per network).
/// * filter `FORWARD` → `neutron-filter-top`, `neutron-openvswi-FORWARD`:
///   per port two jumps, `--physdev-out DEV` and `--physdev-in DEV`, to
///   `neutron-openvswi-sg-chain`.
/// * `neutron-openvswi-sg-chain`: per port `--physdev-out DEV -j i<port>`
///   (traffic to the VM) and `--physdev-in DEV -j o<port>` (from it), then
///   `-j ACCEPT`. Every bridged packet walks this list up to its ports.
/// * `i<port>`: `RELATED,ESTABLISHED -j RETURN`, the ingress rules of the
///   port's groups, `INVALID -j DROP`, `-j neutron-openvswi-sg-fallback` (DROP).
/// * `o<port>`: DHCP client allowed, `-j s<port>` (anti-spoofing: its
///   IP/MAC pairs), DHCP server replies dropped, `RELATED,ESTABLISHED
///   -j RETURN`, the egress rules, `INVALID -j DROP`, fallback.
/// * `INPUT` → `neutron-openvswi-INPUT`: per port `--physdev-in DEV -j o<port>`.
///
/// Remote-group rules match an ipset of the group's IPv4 members
/// (`-m set --match-set NIPv4... src`), Neutron's default
/// (`enable_ipset = True`) rather than one rule per member address.
/// Only IPv4 is written (Neutron writes the IPv6 half with
/// ip6tables-restore on top), and stateless groups are filtered like
/// stateful ones: both make the baseline smaller than Neutron's, not larger.
struct NeutronRuleset {
    static let wrap = "neutron-openvswi"

    /// `iptables-restore` input: the raw and filter tables, complete.
    var iptables: String
    /// `ipset restore` input: one set per remote group, with its members.
    var ipsets: String
    /// Rules in the filter and raw tables.
    var ruleCount: Int

    /// The ruleset for the ports of `host` in policy order, except that the
    /// devices in `last` come last: Neutron appends a new port's jumps after
    /// every existing port's, so a packet of the newest port walks past all.
    init(policy: Policy, host: String, last: [String] = []) {
        let groups = Dictionary(policy.securityGroups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let setNames = Self.setNames(policy)
        var ports = policy.ports.filter { $0.host == host && $0.portSecurity }
        let lastSet = Set(last)
        ports = ports.filter { !lastSet.contains($0.device) } + last.compactMap { d in ports.first { $0.device == d } }
        let zones = Self.zones(policy)

        var raw = TableText("raw", builtins: ["PREROUTING", "OUTPUT"])
        var filter = TableText("filter", builtins: ["INPUT", "FORWARD", "OUTPUT"])
        let w = Self.wrap
        raw.chain("\(w)-PREROUTING")
        raw.rule("PREROUTING", "-j \(w)-PREROUTING")
        for name in ["neutron-filter-top", "\(w)-FORWARD", "\(w)-INPUT", "\(w)-local", "\(w)-sg-chain", "\(w)-sg-fallback"] {
            filter.chain(name)
        }
        filter.rule("FORWARD", "-j neutron-filter-top")
        filter.rule("FORWARD", "-j \(w)-FORWARD")
        filter.rule("INPUT", "-j \(w)-INPUT")
        filter.rule("neutron-filter-top", "-j \(w)-local")
        filter.rule("\(w)-sg-fallback", "-m comment --comment \"Default drop rule for unmatched traffic.\" -j DROP")

        for port in ports {
            let dev = port.device
            let (i, o, s) = ("\(w)-i\(port.name.suffix(10))", "\(w)-o\(port.name.suffix(10))", "\(w)-s\(port.name.suffix(10))")
            raw.rule("\(w)-PREROUTING", "-m physdev --physdev-in \(dev) -m comment --comment \"Set zone for \(port.name)\" -j CT --zone \(zones[port.network] ?? 1)")
            filter.rule("\(w)-FORWARD", "-m physdev --physdev-out \(dev) --physdev-is-bridged -m comment --comment \"Direct traffic from the VM interface to the security group chain.\" -j \(w)-sg-chain")
            filter.rule("\(w)-FORWARD", "-m physdev --physdev-in \(dev) --physdev-is-bridged -m comment --comment \"Direct traffic from the VM interface to the security group chain.\" -j \(w)-sg-chain")
            filter.rule("\(w)-sg-chain", "-m physdev --physdev-out \(dev) --physdev-is-bridged -m comment --comment \"Jump to the VM specific chain.\" -j \(i)")
            filter.rule("\(w)-sg-chain", "-m physdev --physdev-in \(dev) --physdev-is-bridged -m comment --comment \"Jump to the VM specific chain.\" -j \(o)")
            filter.rule("\(w)-INPUT", "-m physdev --physdev-in \(dev) --physdev-is-bridged -m comment --comment \"Direct incoming traffic from VM to the security group chain.\" -j \(o)")

            let rules = port.securityGroups.compactMap { groups[$0] }.flatMap(\.rules)
            filter.chain(i)
            filter.rule(i, "-m state --state RELATED,ESTABLISHED -m comment --comment \"Direct packets associated with a known session to the RETURN chain.\" -j RETURN")
            for rule in rules where rule.direction == .ingress {
                if let text = Self.match(rule, setNames: setNames) { filter.rule(i, text + " -j RETURN") }
            }
            filter.rule(i, "-m state --state INVALID -m comment --comment \"Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack.\" -j DROP")
            filter.rule(i, "-m comment --comment \"Send unmatched traffic to the fallback chain.\" -j \(w)-sg-fallback")

            filter.chain(s)
            for prefix in port.addressPrefixes where prefix.family == .ipv4 {
                filter.rule(s, "-s \(prefix) -m mac --mac-source \(port.mac) -m comment --comment \"Allow traffic from defined IP/MAC pairs.\" -j RETURN")
            }
            filter.rule(s, "-m comment --comment \"Drop traffic without an IP/MAC allow rule.\" -j DROP")

            filter.chain(o)
            filter.rule(o, "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -m comment --comment \"Allow DHCP client traffic.\" -j RETURN")
            filter.rule(o, "-j \(s)")
            filter.rule(o, "-p udp -m udp --sport 68 --dport 67 -m comment --comment \"Allow DHCP client traffic.\" -j RETURN")
            filter.rule(o, "-p udp -m udp --sport 67 --dport 68 -m comment --comment \"Prevent DHCP Spoofing by VM.\" -j DROP")
            filter.rule(o, "-m state --state RELATED,ESTABLISHED -m comment --comment \"Direct packets associated with a known session to the RETURN chain.\" -j RETURN")
            for rule in rules where rule.direction == .egress {
                if let text = Self.match(rule, setNames: setNames) { filter.rule(o, text + " -j RETURN") }
            }
            filter.rule(o, "-m state --state INVALID -m comment --comment \"Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack.\" -j DROP")
            filter.rule(o, "-m comment --comment \"Send unmatched traffic to the fallback chain.\" -j \(w)-sg-fallback")
        }
        filter.rule("\(w)-sg-chain", "-j ACCEPT")

        iptables = raw.text + filter.text
        ruleCount = raw.ruleCount + filter.ruleCount
        ipsets = Self.ipsets(policy, setNames: setNames)
    }

    // MARK: rules

    /// The match part of one security-group rule, or nil when the rule has
    /// no IPv4 half.
    static func match(_ rule: Rule, setNames: [String: String]) -> String? {
        guard rule.families.contains(.ipv4), rule.proto != .icmpv6 else { return nil }
        let address = rule.direction == .ingress ? "-s" : "-d"
        let setDirection = rule.direction == .ingress ? "src" : "dst"
        var parts: [String] = []
        switch rule.remote {
        case .any: break
        case .cidr(let prefix):
            guard prefix.family == .ipv4 else { return nil }
            if prefix.length > 0 { parts.append("\(address) \(prefix)") }
        case .group(let group):
            guard let set = setNames[group] else { return nil }
            parts.append("-m set --match-set \(set) \(setDirection)")
        }
        switch rule.proto {
        case .any: break
        case .tcp, .udp, .sctp:
            parts.append("-p \(rule.proto) -m \(rule.proto)")
            if rule.ports.count == 1 {
                parts.append("--dport \(portText(rule.ports[0]))")
            } else if rule.ports.count > 1 {
                parts.append("-m multiport --dports \(rule.ports.map(portText).joined(separator: ","))")
            }
        case .icmp:
            parts.append("-p icmp")
            if let icmp = rule.icmp { parts.append("-m icmp --icmp-type \(icmp.type)" + (icmp.code.map { "/\($0)" } ?? "")) }
        case .icmpv6:
            return nil
        case .number(let n):
            parts.append("-p \(n)")
        }
        return parts.joined(separator: " ")
    }

    static func portText(_ range: PortRange) -> String {
        range.lower == range.upper ? "\(range.lower)" : "\(range.lower):\(range.upper)"
    }

    // MARK: ipsets

    /// `NIPv4` and a short number per group referenced as a remote group
    /// (Neutron uses a prefix of the group's UUID; set names are ≤ 31 bytes).
    static func setNames(_ policy: Policy) -> [String: String] {
        var referenced = Set<String>()
        for group in policy.securityGroups {
            for rule in group.rules { if case .group(let name) = rule.remote { referenced.insert(name) } }
        }
        var names: [String: String] = [:]
        for (n, group) in policy.securityGroups.enumerated() where referenced.contains(group.name) {
            names[group.name] = "NIPv4g\(n)"
        }
        return names
    }

    static func ipsets(_ policy: Policy, setNames: [String: String]) -> String {
        var members: [String: [IPPrefix]] = [:]
        for port in policy.ports {
            for group in port.securityGroups where setNames[group] != nil {
                members[group, default: []] += port.addressPrefixes.filter { $0.family == .ipv4 }
            }
        }
        var lines: [String] = []
        for (group, set) in setNames.sorted(by: { $0.value < $1.value }) {
            lines.append("create \(set) hash:net family inet hashsize 1024 maxelem 65536")
            for prefix in members[group] ?? [] { lines.append("add \(set) \(prefix)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func zones(_ policy: Policy) -> [String: Int] {
        Dictionary(policy.networks.enumerated().map { ($0.element.name, $0.offset + 1) }, uniquingKeysWith: { a, _ in a })
    }
}

/// One table of `iptables-restore` input: chain declarations, then rules.
private struct TableText {
    let name: String
    var declarations: [String]
    var rules: [String] = []

    init(_ name: String, builtins: [String]) {
        self.name = name
        declarations = builtins.map { ":\($0) ACCEPT [0:0]" }
    }

    mutating func chain(_ chain: String) { declarations.append(":\(chain) - [0:0]") }
    mutating func rule(_ chain: String, _ text: String) { rules.append("-A \(chain) \(text)") }

    var ruleCount: Int { rules.count }
    var text: String { (["*\(name)"] + declarations + rules + ["COMMIT"]).joined(separator: "\n") + "\n" }
}
