import PolicyModel

/// A security-group rule in one line, the way policy.json states it:
/// `ingress tcp 80,8000-8002 from group clients`, `egress any to 10.0.0.0/8 ipv4`.
enum RuleText {
    static func describe(_ rule: Rule) -> String {
        var words = [rule.direction.rawValue, rule.proto.description]
        if !rule.ports.isEmpty { words.append(rule.ports.map(\.description).joined(separator: ",")) }
        if let icmp = rule.icmp { words.append("type \(icmp.type)" + (icmp.code.map { " code \($0)" } ?? "")) }
        let side = rule.direction == .ingress ? "from" : "to"
        switch rule.remote {
        case .any: words.append("\(side) any")
        case .cidr(let prefix): words.append("\(side) \(prefix)")
        case .group(let name): words.append("\(side) group \(name)")
        }
        if let ethertype = rule.ethertype { words.append(ethertype.rawValue) }
        return words.joined(separator: " ")
    }
}
