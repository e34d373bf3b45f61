import Foundation
import Testing

/// Stateful and stateless ports talking to each other (policy-format.md,
/// semantics 4): the reply to a connection that a stateful port's rules
/// allowed passes that port without a rule of its own, wherever the
/// stateless peer is (same host or another), and traffic between stateless
/// ports is never connection-tracked, on VXLAN and on VLAN networks.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct StatelessTests {
    /// Stateful `s` may only send TCP (no ingress rule at all: only
    /// conntrack lets replies in); stateless `l` admits TCP 8080, and the
    /// replies to its own connections from ports 40000-40009, and sends TCP.
    static func groups(_ policy: inout PolicyDoc) {
        policy.group("s", stateful: true, [Rule.egress(["protocol": "tcp"])])
        policy.group("l", stateful: false, [
            Rule.ingress(["protocol": "tcp", "ports": "8080"]),
            Rule.ingress(["protocol": "tcp", "ports": "40000-40009"]),
            Rule.egress(["protocol": "tcp"]),
        ])
    }

    /// `stateful` in group s, `near` (on its host) and `far` (on the other)
    /// in the stateless group l: applied on both hosts, each VM serving tcp/8080.
    static func enforceMix(_ base: PolicyDoc, stateful a: VM, near: VM, far: VM, on hosts: [Host]) async throws {
        var policy = base
        groups(&policy)
        policy.port(a, groups: ["s"])
        policy.port(near, groups: ["l"])
        policy.port(far, groups: ["l"])
        for host in hosts { try await host.mustApply(policy) }
        for vm in [a, near, far] { _ = try await vm.serve(tcp: "8080") }
    }

    /// conntrack entries of the flows between `a` and `b` (either way).
    static func flows(_ entries: [String], between a: VM, _ b: VM) -> [String] {
        entries.filter { entry in
            [(a, b), (b, a)].contains { x, y in
                entry.contains("src=\(x.ipv4) dst=\(y.ipv4) ") || entry.contains("src=\(x.ipv6) dst=\(y.ipv6) ")
            }
        }
    }

    /// The entries of the networks' zones (not the underlay's), for messages.
    static func ofNetworks(_ entries: [String]) -> [String] { entries.filter { $0.contains("zone=") } }

    @Test func statefulPortGetsTheRepliesOfAStatelessPortOnItsOwnHostAsOnAnotherAndStatelessPairsAreNotTracked() async throws {
        try await Topology.with("slmix") { t in
            let hv1 = try await t.host("hv1", vtep: "192.0.2.1")
            let hv2 = try await t.host("hv2", vtep: "192.0.2.2")
            let a = try await hv1.vm("a", 1)
            let near = try await hv1.vm("near", 2)  // stateless, on a's host
            let far = try await hv2.vm("far", 3)  // stateless, on the other host
            let policy = PolicyDoc.oneNetwork(hv1, hv2)
            try await Self.enforceMix(policy, stateful: a, near: near, far: far, on: [hv1, hv2])

            await t.expect([
                // The replies pass a's ingress as established, on one host as across two.
                a.reaches(near.ipv4, .tcp(8080)),
                a.reaches(near.ipv6, .tcp(8080)),
                a.reaches(far.ipv4, .tcp(8080)),
                a.reaches(far.ipv6, .tcp(8080)),
                // a's ingress admits nothing else.
                near.doesNotReach(a.ipv4, .tcp(8080, sourcePort: 40000)),
                far.doesNotReach(a.ipv4, .tcp(8080, sourcePort: 40001)),
                // Between the stateless ports, their rules alone decide, both ways.
                near.reaches(far.ipv4, .tcp(8080, sourcePort: 40002)),
                far.reaches(near.ipv6, .tcp(8080, sourcePort: 40003)),
                near.doesNotReach(far.ipv4, .tcp(8080, sourcePort: 41000)),
            ])

            let entries1 = try await hv1.conntrackEntries()
            let entries2 = try await hv2.conntrackEntries()
            await t.expect(!Self.flows(entries1, between: a, near).isEmpty,
                           "a's connections to the stateless port on its host should be tracked there: \(Self.ofNetworks(entries1))")
            await t.expect(!Self.flows(entries1, between: a, far).isEmpty,
                           "a's connections to the stateless port on hv2 should be tracked on a's host: \(Self.ofNetworks(entries1))")
            let untracked = Self.flows(entries1 + entries2, between: near, far) + Self.flows(entries2, between: a, far)
            await t.expect(untracked.isEmpty, "traffic that reaches no stateful port of a host must not be tracked there: \(untracked)")
        }
    }

    @Test func statelessPortsOnOneHostAreNotTrackedAndKeepTheirOwnRules() async throws {
        try await Topology.with("slpair") { t in
            let hv = try await t.host("hv1")
            let one = try await hv.vm("one", 1)
            let two = try await hv.vm("two", 2)
            let a = try await hv.vm("a", 3)
            var policy = PolicyDoc.oneNetwork(hv)
            Self.groups(&policy)
            policy.port(one, groups: ["l"])
            policy.port(two, groups: ["l"])
            policy.port(a, groups: ["s"])
            try await hv.mustApply(policy)
            _ = try await two.serve(tcp: "8080,9090")
            _ = try await a.serve(tcp: "8080")

            await t.expect([
                one.reaches(two.ipv4, .tcp(8080, sourcePort: 40000)),
                one.reaches(two.ipv6, .tcp(8080, sourcePort: 40001)),
                // A tracked connection from a stateful port doesn't open the
                // stateless port's ingress beyond its rules.
                a.reaches(two.ipv4, .tcp(8080)),
                a.doesNotReach(two.ipv4, .tcp(9090)),
                two.doesNotReach(a.ipv4, .tcp(8080, sourcePort: 40002)),
            ])
            let entries = try await hv.conntrackEntries()
            let untracked = Self.flows(entries, between: one, two)
            await t.expect(untracked.isEmpty, "traffic between stateless ports must not be tracked: \(untracked)")
        }
    }

    /// Over a VLAN trunk frames arrive without the mark of a port: they get
    /// their network's zone from their VLAN tag. Needs bridge VLAN filtering
    /// (the Debian stock kernel VM, see VLANTests).
    @Test(.enabled(if: VLANSupport.available, VLANSupport.reason))
    func overAVLANTrunkStatelessPortsAreNotTrackedAndStatefulOnesGetTheirReplies() async throws {
        try await Topology.with("slvlan") { t in
            let hv1 = try await t.host("hv1", vtep: "192.0.2.1")
            let hv2 = try await t.host("hv2", vtep: "192.0.2.2")
            let a = try await hv1.vm("a", 1, network: "red")
            let near = try await hv1.vm("near", 2, network: "red")
            let far = try await hv2.vm("far", 3, network: "red")
            var policy = PolicyDoc()
            policy.network("red", vlan: 100)
            policy.host(hv1)
            policy.host(hv2)
            try await Self.enforceMix(policy, stateful: a, near: near, far: far, on: [hv1, hv2])

            await t.expect([
                a.reaches(near.ipv4, .tcp(8080)),
                a.reaches(far.ipv4, .tcp(8080)),
                far.doesNotReach(a.ipv4, .tcp(8080, sourcePort: 40000)),
                near.reaches(far.ipv4, .tcp(8080, sourcePort: 40001)),
                far.reaches(near.ipv4, .tcp(8080, sourcePort: 40002)),
            ])
            let entries1 = try await hv1.conntrackEntries()
            let entries2 = try await hv2.conntrackEntries()
            await t.expect(!Self.flows(entries1, between: a, far).isEmpty,
                           "a's connection to far should be tracked on a's host: \(Self.ofNetworks(entries1))")
            // Frames from the trunk to a stateless port: hv2 for near -> far
            // and a -> far, hv1 for far -> near.
            let untracked = Self.flows(entries1 + entries2, between: near, far) + Self.flows(entries2, between: a, far)
            await t.expect(untracked.isEmpty, "traffic that reaches no stateful port of a host must not be tracked there: \(untracked)")
        }
    }
}
