import HostModel
import PolicyModel

/// One security-group rule → the nftables rules of its group chain: one per
/// IP family the rule applies to. Rules only accept, and count what they
/// accept (`sgctl stats`); a packet no rule of the port's groups accepts is
/// dropped by the port's own chain.
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
                // One port or range is a plain comparison, several a set: the
                // form nft itself chooses, and the one read back from the kernel.
                let ports = mergedPorts(rule.ports.map { (UInt64($0.lower), UInt64($0.upper)) })
                matches.append(ports.count == 1 ? .compare(.transportDport, .equal, ports[0]) : .anyOf(.transportDport, ports))
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
            return NFTRule(matches, statements: [.counter], verdict: .accept, comment: String(comment.prefix(120)))
        }
    }

    /// Port ranges sorted, with overlapping and adjacent ones merged: the
    /// kernel refuses overlapping intervals in a set, and the values read
    /// back from it come out this way, so plan and kernel agree.
    static func mergedPorts(_ ranges: [(UInt64, UInt64)]) -> [NFTValue] {
        var merged: [(UInt64, UInt64)] = []
        for (lower, upper) in ranges.sorted(by: { $0 < $1 }) {
            if let last = merged.last, lower <= last.1 + 1 {
                merged[merged.count - 1].1 = max(last.1, upper)
            } else {
                merged.append((lower, upper))
            }
        }
        return merged.map { $0.0 == $0.1 ? .integer($0.0) : .range($0.0, $0.1) }
    }
}
