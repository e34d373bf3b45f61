import HostModel
import PlanText
import PolicyCompiler
import PolicyModel
import Testing

/// Which port, group, profile or host each change of a plan is shown under.
@Suite struct PlanViewTests {
    @Test func aVMJoiningAGroupShowsItsDispatchEntriesAndTheGroupsNewMemberAddress() throws {
        let view = try PlanFixture.view(from: PlanFixture.policy, to: PlanFixture.policy(PlanFixture.setGroups("vm2", ["client", "web"])))
        #expect(view.sections.map(\.subject) == [
            .port(name: "vm2", device: "tap-vm2"), .group("web"), .profile("client"), .profile("client/web"),
        ])
        let port = try #require(view.section(.port(name: "vm2", device: "tap-vm2")))
        // Its own chains now jump to the new profile; its map entries stay.
        #expect(port.texts == ["~ chain inet port/tap-vm2/egress 2 rules", "~ chain inet port/tap-vm2/ingress 2 rules"])
        #expect(port.items.flatMap(\.details).map(\.text) == [
            "jump profile/client/egress", "jump profile/client/web/egress",
            "jump profile/client/ingress", "jump profile/client/web/ingress",
        ])
        let group = try #require(view.section(.group("web")))
        // The compiler merges adjacent addresses: vm2's joins vm1's and vm3's into one range.
        #expect(group.texts == [
            "- element inet remote/web/ipv4 10.0.0.1 (port vm1)",
            "- element inet remote/web/ipv4 10.0.0.3 (port vm3)",
            "+ element inet remote/web/ipv4 10.0.0.1-10.0.0.3 (ports vm1, vm2, vm3)",
        ])
        #expect(view.summary == "host hv1: 1 port, 1 group and 2 profiles changed — 9 changes (2 chains added, 1 element added, 2 elements deleted, 2 chains replaced, 2 chains deleted)")
    }

    @Test func theEntriesOfARemovedPortAreFoundByTheObservedStateEvenThoughThePolicyNoLongerNamesIt() throws {
        let without = PlanFixture.policy { $0.ports.removeAll { $0.name == "vm2" } }
        let view = try PlanFixture.view(from: PlanFixture.policy, to: without)
        let gone = try #require(view.section(.port(name: nil, device: "tap-vm2")))
        // Its slot in both verdict maps, its MAC among the stateful ports',
        // its set entries and the bridge port: nothing lands in the host's
        // section.
        #expect(gone.texts.contains { $0.hasPrefix("- element bridge stateful_macs") })
        #expect(gone.texts.contains { $0.hasPrefix("- element inet egress_ports") })
        #expect(gone.texts.contains { $0.hasPrefix("- element inet ingress_ports") })
        #expect(gone.texts.contains { $0.hasPrefix("- chain inet port/tap-vm2/egress") })
        #expect(gone.texts.contains { $0.hasPrefix("- element bridge allowed_macs \"tap-vm2\"") })
        #expect(gone.texts.last == "- port tap-vm2 from sgbr-5001")
        #expect(view.section(.host) == nil)
        #expect(view.sections.map { $0.subject.title(host: "hv1") }.first == "device tap-vm2 (no port of the policy)")
    }

    @Test func tunnelAndUplinkEntriesAreTheHostsNotAPorts() throws {
        let view = try PlanFixture.view(from: nil, to: PlanFixture.policy)
        let host = try #require(view.section(.host))
        #expect(host.texts.contains("+ element bridge port_marks \"sgvx-5001\" : 0x00012389"))
        #expect(host.texts.contains("+ vxlan sgvx-5001 vni 5001 local 192.0.2.1 dev eth1 on sgbr-5001"))
        #expect(host.texts.contains("+ flood sgvx-5001 to 192.0.2.2"))
        #expect(host.texts.contains("+ table inet secgroups"))
        #expect(!host.texts.contains { $0.contains("tap-") })
        // Every element keyed by a port's device, slot or MAC is in its port's section.
        for port in ["vm1", "vm2"] {
            let section = try #require(view.section(.port(name: port, device: "tap-\(port)")))
            #expect(section.counts.description == "2 chains added, 10 elements added, 1 port attached", "\(port)")
        }
    }

    @Test func aReplacedChainShowsOnlyTheRulesThatDifferWhenTheOldOnesAreKnown() throws {
        let widened = PlanFixture.policy { policy in
            policy.securityGroups[0].rules[0].ports = [PortRange(80), PortRange(443)]
        }
        let view = try PlanFixture.view(from: PlanFixture.policy, to: widened)
        let item = try #require(view.section(.group("web"))?.items.first)
        #expect(item.change == .replaced)
        #expect(item.value == "5 rules")
        #expect(item.details.map(\.change) == [.removed, .removed, .added, .added])
        #expect(item.details.map(\.text) == [
            "meta nfproto ipv4 meta l4proto tcp th dport 80 counter accept comment \"web rule 0\"",
            "meta nfproto ipv6 meta l4proto tcp th dport 80 counter accept comment \"web rule 0\"",
            "meta nfproto ipv4 meta l4proto tcp th dport { 80, 443 } counter accept comment \"web rule 0\"",
            "meta nfproto ipv6 meta l4proto tcp th dport { 80, 443 } counter accept comment \"web rule 0\"",
        ])

        let blind = try PlanFixture.view(from: PlanFixture.policy, to: widened, knowingObserved: false)
        let whole = try #require(blind.section(.group("web"))?.items.first)
        #expect(whole.details.count == 5)
        #expect(whole.details.allSatisfy { $0.change == nil })
    }

    @Test func aPlanWithoutChangesSaysSo() throws {
        let view = try PlanFixture.view(from: PlanFixture.policy, to: PlanFixture.policy)
        #expect(view.isEmpty)
        #expect(view.summary == "host hv1: no changes")
        #expect(PlanRenderer(style: TextStyle(colored: true)).render(view) == ["\u{1B}[1mhost hv1: no changes\u{1B}[0m"])
    }

    @Test(arguments: [
        ([String](), ["a", "b"], ["+ a", "+ b"]),
        (["a", "b", "c"], ["a", "c"], ["- b"]),
        (["a", "b", "c"], ["a", "x", "c"], ["- b", "+ x"]),
        (["a", "b"], ["a", "b"], []),
        (["a", "b", "c", "d"], ["b", "c", "d", "e"], ["- a", "+ e"]),
    ])
    func ruleDiffListsOnlyTheRulesThatComeAndGo(_ old: [String], _ new: [String], _ expected: [String]) {
        let details = RuleDiff.changes(from: old, to: new)
        #expect(details?.map { "\($0.change!.rawValue) \($0.text)" } == expected)
    }
}

@Test(arguments: [("vm2", "vm10"), ("worker-9", "worker-10"), ("a", "b"), ("web", "web-1"), ("g1x", "g10"), ("vm01", "vm1")])
func namesAreInNaturalOrder(_ first: String, _ second: String) {
    let a = PlanSubject.group(first), b = PlanSubject.group(second)
    #expect(a < b)
    #expect(!(b < a))
}
