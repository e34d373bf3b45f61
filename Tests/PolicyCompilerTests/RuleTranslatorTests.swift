import HostModel
import PolicyModel
import Testing

@testable import PolicyCompiler

/// One row per rule feature: the policy rule and the nft rules it becomes.
@Suite struct RuleTranslatorTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var rule: Rule
        var expected: [String]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "any egress: both families", rule: Rule(direction: .egress), expected: [
            #"meta nfproto ipv4 counter accept comment "g rule 0""#,
            #"meta nfproto ipv6 counter accept comment "g rule 0""#,
        ]),
        Row(name: "tcp ports and a range from a cidr",
            rule: Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80), PortRange(8000, 8100)], remote: .cidr(IPPrefix("198.51.100.0/24")!)),
            expected: [#"meta nfproto ipv4 ip saddr 198.51.100.0/24 meta l4proto tcp th dport { 80, 8000-8100 } counter accept comment "g rule 0""#]),
        Row(name: "0.0.0.0/0 matches every IPv4 address",
            rule: Rule(direction: .ingress, proto: .udp, ports: [PortRange(53)], remote: .cidr(IPPrefix("0.0.0.0/0")!)),
            expected: [#"meta nfproto ipv4 meta l4proto udp th dport 53 counter accept comment "g rule 0""#]),
        Row(name: "egress to an IPv6 cidr uses the destination",
            rule: Rule(direction: .egress, proto: .sctp, remote: .cidr(IPPrefix("2001:db8::/32")!)),
            expected: [#"meta nfproto ipv6 ip6 daddr 2001:db8::/32 meta l4proto sctp counter accept comment "g rule 0""#]),
        Row(name: "remote group: one set per family",
            rule: Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .group("bastion")),
            expected: [
                #"meta nfproto ipv4 ip saddr @remote/bastion/ipv4 meta l4proto tcp th dport 22 counter accept comment "g rule 0""#,
                #"meta nfproto ipv6 ip6 saddr @remote/bastion/ipv6 meta l4proto tcp th dport 22 counter accept comment "g rule 0""#,
            ]),
        Row(name: "remote group with ethertype ipv6",
            rule: Rule(direction: .egress, remote: .group("db"), ethertype: .ipv6),
            expected: [#"meta nfproto ipv6 ip6 daddr @remote/db/ipv6 counter accept comment "g rule 0""#]),
        Row(name: "icmp type and code imply IPv4",
            rule: Rule(direction: .ingress, proto: .icmp, icmp: ICMPMatch(type: 3, code: 4)),
            expected: [#"meta nfproto ipv4 meta l4proto icmp icmp type 3 icmp code 4 counter accept comment "g rule 0""#]),
        Row(name: "icmpv6 type implies IPv6",
            rule: Rule(direction: .ingress, proto: .icmpv6, icmp: ICMPMatch(type: 128)),
            expected: [#"meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 128 counter accept comment "g rule 0""#]),
        Row(name: "protocol number",
            rule: Rule(direction: .egress, proto: .number(47), ethertype: .ipv4),
            expected: [#"meta nfproto ipv4 meta l4proto 47 counter accept comment "g rule 0""#]),
        Row(name: "description goes into the comment",
            rule: Rule(direction: .egress, proto: .number(112), ethertype: .ipv4, description: "VRRP"),
            expected: [#"meta nfproto ipv4 meta l4proto 112 counter accept comment "g rule 0: VRRP""#]),
    ]

    @Test(arguments: rows)
    func translates(_ row: Row) {
        let rendered = RuleTranslator.translate(row.rule, group: "g", number: 0).map(NFTRenderer.rule)
        #expect(rendered == row.expected)
    }
}
