/// The result of a trace: what happened to the packet, step by step, and
/// to its answer. Printed by `sgctl trace` (text or JSON).
public struct Trace: Hashable, Sendable, Codable {
    public enum Verdict: String, Hashable, Sendable, Codable {
        case allowed, dropped
    }

    /// `tcp 10.0.0.1:49152 -> 10.0.0.2:22`.
    public var packet: String
    public var source: EndpointInfo
    public var destination: EndpointInfo
    /// Egress of the source port, then ingress of the destination port
    /// (or why the packet can't get there).
    public var steps: [TraceStep]
    public var verdict: Verdict
    /// The verdict in one line: which rule allowed the packet, or what dropped it.
    public var reason: String
    /// What happens to the answer, when the packet got through and gets one.
    public var reply: Reply?

    public struct Reply: Hashable, Sendable, Codable {
        public var packet: String
        public var steps: [TraceStep]
        public var verdict: Verdict
        public var reason: String
    }

    /// Whether a round trip works: the packet gets through and so does its
    /// answer, if it has one (what a ping or a TCP handshake needs).
    public var roundTripAllowed: Bool {
        verdict == .allowed && (reply?.verdict ?? .allowed) == .allowed
    }
}

/// One end of the packet.
public struct EndpointInfo: Hashable, Sendable, Codable {
    /// Nil for an address outside the policy.
    public var port: String?
    public var host: String?
    public var device: String?
    public var network: String?
    public var address: String
    public var securityGroups: [String]?
    public var portSecurity: Bool?
    public var stateful: Bool?

    /// `port web1 (10.0.0.11, host hv1, device tap-web1, network blue)` or `10.9.9.9 (outside the policy)`.
    public var summary: String {
        guard let port else { return "\(address) (outside the policy)" }
        return "port \(port) (\(address), host \(host ?? "?"), device \(device ?? "?"), network \(network ?? "?"))"
    }
}

/// One port's check of the packet, or a fact of the path.
public struct TraceStep: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// The sending port's checks: port security, conntrack, egress rules.
        case egress
        /// The receiving port's checks: conntrack (on its host), ingress rules.
        case ingress
        /// Whether the frame can get there at all: networks, segments.
        case path
    }

    public var kind: Kind
    public var port: String?
    public var host: String?
    public var findings: [Finding]
    public var verdict: Trace.Verdict

    /// `egress of port web1 on hv1`.
    public var title: String {
        switch kind {
        case .egress: "egress of port \(port ?? "?") on \(host ?? "?")"
        case .ingress: "ingress of port \(port ?? "?") on \(host ?? "?")"
        case .path: "path"
        }
    }
}

/// One thing a step found, with the nftables rule that decided it.
public struct Finding: Hashable, Sendable, Codable {
    public enum Topic: String, Hashable, Sendable, Codable {
        case portSecurity = "port security"
        case conntrack
        case rules = "security groups"
        case path
    }

    public var topic: Topic
    public var verdict: Trace.Verdict?
    public var text: String
    /// `inet secgroups sg/web/ingress #1`: the rule that decided, by its position in its chain (from 0).
    public var location: String?
    /// For an allowing group rule: the group, the rule's index in its
    /// `rules` list, and the rule as the policy states it.
    public var group: String?
    public var rule: Int?
    public var ruleText: String?
}
