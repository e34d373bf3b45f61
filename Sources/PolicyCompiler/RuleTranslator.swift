import HostModel
import PolicyModel

/// One security-group rule → the nftables rules of its group chain: one per
/// IP family the rule applies to. Rules only accept; a packet no rule of the
/// port's groups accepts is dropped by the profile chain.
enum RuleTranslator {
    static func translate(_ rule: Rule, group: String, number: Int) -> [NFTRule] {
        rule.families.map { family in
            var matches: [NFTMatch] = [.compare(.nfproto, .equal, .integer(family == .ipv4 ? 2 : 10))]
            let remoteAddress: NFTSelector =
                switch (family, rule.direction) {
                case (.ipv4, .ingress): .ipSaddr
                case (.ipv4, .egress): .ipDaddr
                case (.ipv6, .ingress): .ip6Saddr
                case (.ipv6, .egress): .ip6Daddr
                }
            switch rule.remote {
            case .any:
                break
            case .cidr(let prefix) where prefix.length == 0:
                break  // 0.0.0.0/0 and ::/0 match every address of their family
            case .cidr(let prefix):
                matches.append(.compare(remoteAddress, .equal, .address(IPRange(prefix))))
            case .group(let name):
                matches.append(.lookup([remoteAddress], .equal, set: Naming.remoteSet(name, family)))
            }
            if let number = rule.proto.number {
                matches.append(.compare(.l4proto, .equal, .integer(UInt64(number))))
            }
            if !rule.ports.isEmpty {
                matches.append(.anyOf(.transportDport, rule.ports.map { range in
                    range.lower == range.upper ? .integer(UInt64(range.lower)) : .range(UInt64(range.lower), UInt64(range.upper))
                }))
            }
            if let icmp = rule.icmp {
                let v6 = rule.proto == .icmpv6
                matches.append(.compare(v6 ? .icmpv6Type : .icmpType, .equal, .integer(UInt64(icmp.type))))
                if let code = icmp.code {
                    matches.append(.compare(v6 ? .icmpv6Code : .icmpCode, .equal, .integer(UInt64(code))))
                }
            }
            var comment = "\(group) rule \(number)"
            if let description = rule.description, !description.isEmpty { comment += ": \(description)" }
            return NFTRule(matches, verdict: .accept, comment: String(comment.prefix(120)))
        }
    }
}
