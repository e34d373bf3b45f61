import HostModel
import PolicyModel

/// Turns the rules a packet met on a host into what they mean for a port:
/// port security passed or why not, the conntrack state, and which group
/// rule allowed the packet or that none did. It reads the chains by the
/// names and comments the compiler gives them (Naming, RuleTranslator).
struct StepExplainer {
    let policy: Policy

    func egress(of port: Port, _ passage: HostPassage, _ datapath: HostDatapath, _ packet: Packet) -> TraceStep {
        var findings: [Finding] = []
        let hits = passage.hits[.bridgePrerouting] ?? []
        if let decisive = hits.last(where: { $0.chain.hasPrefix("port-security") }) {
            findings.append(portSecurity(decisive, datapath, packet))
        } else if !port.portSecurity {
            findings.append(Finding(topic: .portSecurity, text: "off for this port: its frames are neither checked nor filtered"))
        } else if passage.droppedAt == .bridgePrerouting {
            findings.append(unexpected(hits))
        }
        if passage.droppedAt != .bridgePrerouting {
            findings.append(contentsOf: conntrack(passage))
            findings.append(contentsOf: rules(.egress, of: port, passage.hits[.inetPrerouting] ?? [], datapath))
        }
        return step(.egress, port, passage.host, findings)
    }

    func ingress(of port: Port, _ passage: HostPassage, _ datapath: HostDatapath, showConntrack: Bool) -> TraceStep {
        var findings: [Finding] = []
        if let stage = passage.droppedAt, stage == .bridgePrerouting || stage == .inetPrerouting {
            // Dropped on arrival at the receiving host, before any port's checks.
            findings.append(unexpected(passage.hits[stage] ?? []))
            return step(.ingress, port, passage.host, findings)
        }
        if showConntrack { findings.append(contentsOf: conntrack(passage)) }
        if passage.droppedAt == .bridgeForward {
            findings.append(unexpected(passage.hits[.bridgeForward] ?? []))
        } else {
            findings.append(contentsOf: rules(.ingress, of: port, passage.hits[.inetForward] ?? [], datapath))
        }
        return step(.ingress, port, passage.host, findings)
    }

    /// A drop on a host where no port's checks were expected to decide.
    func unexpectedStep(_ kind: TraceStep.Kind, port: String?, _ passage: HostPassage) -> TraceStep? {
        guard let stage = passage.droppedAt else { return nil }
        return step(kind, port, passage.host, [unexpected(passage.hits[stage] ?? [])])
    }

    // MARK: - findings

    private func portSecurity(_ hit: RuleHit, _ datapath: HostDatapath, _ packet: Packet) -> Finding {
        let rule = datapath.bridgeTable.flatMap { self.rule(at: hit, in: $0) }
        if hit.effect == "drop" {
            return Finding(topic: .portSecurity, verdict: .dropped, text: "dropped: \(hit.comment ?? "not allowed")", location: hit.location)
        }
        let sets: [String] = rule?.matches.compactMap { match -> String? in
            if case .lookup(_, _, let set) = match { set } else { nil }
        } ?? []
        let text: String
        if let comment = hit.comment {
            text = "passed: \(comment)"
        } else if sets.contains(where: { $0.hasSuffix("_prefixes") }) {
            text = "passed: source MAC \(packet.sourceMAC.map(String.init(describing:)) ?? "?") with \(packet.source) is within an address pair of the port"
        } else {
            text = "passed: source MAC \(packet.sourceMAC.map(String.init(describing:)) ?? "?") with \(packet.source) is the port's"
        }
        return Finding(topic: .portSecurity, verdict: .allowed, text: text, location: hit.location)
    }

    private func conntrack(_ passage: HostPassage) -> [Finding] {
        guard let state = passage.connection else { return [] }
        let zone = passage.zone.map { " in zone \($0)" } ?? ""
        let text =
            switch state {
            case .new: "new connection\(zone)"
            case .established: "established: the answer of a connection tracked\(zone)"
            case .related: "related to a connection tracked\(zone)"
            case .invalid: "invalid: a packet of no connection that can't start one\(zone)"
            case .untracked where passage.zone != nil: "not tracked: conntrack leaves neighbour discovery and MLD alone"
            case .untracked:
                "not tracked: neither end on this host is a port in stateful groups, so every packet is judged by the rules alone"
            }
        return [Finding(topic: .conntrack, text: text)]
    }

    /// What the port's profile chain decided.
    private func rules(_ direction: Direction, of port: Port, _ hits: [RuleHit], _ datapath: HostDatapath) -> [Finding] {
        let filtering = hits.filter { $0.chain != "raw-prerouting" }
        guard let decisive = filtering.last(where: { $0.effect == "accept" || $0.effect == "drop" }) else { return [] }
        let chain = decisive.chain
        let rule = datapath.inetTable.flatMap { self.rule(at: decisive, in: $0) }
        if chain == direction.rawValue {
            // The dispatch found no profile for this port: it has no slot.
            let text = decisive.index == nil ? "not filtered: the port has no port security" : "not filtered: \(decisive.comment ?? "not ours")"
            return [Finding(topic: .rules, verdict: .allowed, text: text, location: decisive.location)]
        }
        if chain.hasPrefix("sg/") {
            return [groupRule(decisive, chain)]
        }
        if chain.hasPrefix("always-") {
            return [Finding(topic: .rules, verdict: .allowed, text: "allowed for every filtered port: \(decisive.comment ?? "")", location: decisive.location)]
        }
        let checksState = rule?.matches.contains { if case .anyOf(.ctState, _) = $0 { true } else { false } } ?? false
        if chain.hasPrefix("profile/"), checksState {
            return decisive.effect == "drop"
                ? [Finding(topic: .rules, verdict: .dropped, text: "dropped: conntrack finds the packet invalid", location: decisive.location)]
                : [Finding(topic: .rules, verdict: .allowed, text: "allowed: it belongs to a tracked connection", location: decisive.location)]
        }
        if chain.hasPrefix("port/"), decisive.effect == "drop" {
            // The port's default drop: nothing before it accepted.
            let groups = port.securityGroups.sorted()
            let text = groups.isEmpty
                ? "dropped: the port has no security groups, so only ARP, neighbour discovery and DHCP pass"
                : "dropped: no \(direction.rawValue) rule of groups [\(groups.joined(separator: ", "))] allows it"
            return [Finding(topic: .rules, verdict: .dropped, text: text, location: decisive.location)]
        }
        return [Finding(
            topic: .rules, verdict: decisive.effect == "drop" ? .dropped : .allowed,
            text: "\(decisive.effect == "drop" ? "dropped" : "allowed")\(decisive.comment.map { ": \($0)" } ?? "")", location: decisive.location)]
    }

    /// An accepting rule of a group chain `sg/GROUP/DIRECTION`, whose comment
    /// is `GROUP rule N` or `GROUP rule N: description`.
    private func groupRule(_ hit: RuleHit, _ chain: String) -> Finding {
        // Group names have no "/" (policy-format.md: names).
        let name = chain.split(separator: "/").dropFirst().first.map(String.init) ?? chain
        let comment = hit.comment ?? ""
        let rest = comment.hasPrefix("\(name) rule ") ? comment.dropFirst(name.count + 6) : ""
        let number = Int(rest.prefix { $0.isNumber })
        let description = rest.firstIndex(of: ":").map { rest[rest.index($0, offsetBy: 2)...] }.map(String.init)
        let ruleText = number.flatMap { n in
            policy.securityGroups.first { $0.name == name }.flatMap { $0.rules.indices.contains(n) ? RuleText.describe($0.rules[n]) : nil }
        }
        var text = "allowed by group \(name)" + (number.map { " rule \($0)" } ?? "")
        if let description { text += ": \(description)" }
        if let ruleText { text += " (\(ruleText))" }
        return Finding(
            topic: .rules, verdict: .allowed, text: text, location: hit.location, group: name, rule: number,
            ruleText: ruleText)
    }

    private func unexpected(_ hits: [RuleHit]) -> Finding {
        let last = hits.last
        return Finding(
            topic: .path, verdict: .dropped, text: "dropped\(last?.comment.map { ": \($0)" } ?? "")", location: last?.location)
    }

    private func rule(at hit: RuleHit, in table: NFTTable) -> NFTRule? {
        guard let index = hit.index, let chain = table.chains[hit.chain], chain.rules.indices.contains(index) else { return nil }
        return chain.rules[index]
    }

    private func step(_ kind: TraceStep.Kind, _ port: Port, _ host: String, _ findings: [Finding]) -> TraceStep {
        step(kind, port.name, host, findings)
    }

    private func step(_ kind: TraceStep.Kind, _ port: String?, _ host: String, _ findings: [Finding]) -> TraceStep {
        let dropped = findings.contains { $0.verdict == .dropped }
        return TraceStep(kind: kind, port: port, host: host, findings: findings, verdict: dropped ? .dropped : .allowed)
    }
}
