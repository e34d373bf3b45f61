import Foundation
import PolicyModel
import PolicyTrace
import Testing

/// Trace over the fixture's compiled hosts: one test per thing the
/// explanation must get right. The integration suite checks the verdicts
/// against real packets; these check the words and the corner cases.
struct TraceTests {
    typealias F = TraceFixture

    @Test func allowedPacketNamesTheEgressAndIngressRulesAndItsReplyPassesAsEstablished() throws {
        let trace = try F.trace("cli", "web", .tcp(8001))
        #expect(trace.verdict == .allowed)
        #expect(trace.packet == "tcp 10.0.0.1:49152 -> 10.0.0.2:8001")
        #expect(trace.steps.map(\.title) == ["egress of port cli on hv1", "ingress of port web on hv1"])
        let egress = try #require(trace.steps[0].findings.last)
        #expect(egress.group == "client" && egress.rule == 0 && egress.text.contains("anything out"))
        #expect(egress.location == "inet secgroups sg/client/egress #0")
        let ingress = try #require(trace.steps[1].findings.last)
        #expect(ingress.group == "web" && ingress.rule == 0)
        #expect(ingress.text == "allowed by group web rule 0: http (ingress tcp 80,8000-8002 from any)")
        #expect(trace.steps[0].findings.first?.text == "passed: source MAC 52:54:00:00:00:01 with 10.0.0.1 is the port's")
        #expect(trace.findingTexts.contains("new connection in zone 4196"))
        #expect(trace.reply?.verdict == .allowed)
        #expect(trace.replyTexts.contains("established: the answer of a connection tracked in zone 4196"))
        #expect(trace.roundTripAllowed)
    }

    @Test func packetNoRuleAllowsIsDroppedAtThePortsChainNamingTheGroups() throws {
        let trace = try F.trace("cli", "web", .tcp(8003))
        #expect(trace.verdict == .dropped)
        #expect(trace.reply == nil)
        #expect(trace.reason == "ingress of port web on hv1: dropped: no ingress rule of groups [web] allows it")
        #expect(trace.steps[1].findings.last?.location == "inet secgroups port/tap-web/ingress #1")
        // And on egress: db has no egress rule at all.
        let out = try F.trace("db", "cli", .ping(.ipv4))
        #expect(out.reason == "egress of port db on hv2: dropped: no egress rule of groups [db] allows it")
        #expect(out.steps.count == 1)
    }

    @Test func portWithoutGroupsGetsOnlyTheAlwaysAllowedTraffic() throws {
        #expect(try F.trace("cli", "bare", .tcp(80)).reason.contains("the port has no security groups"))
        let nd = try F.trace("bare", "cli", Probe(proto: .icmpv6, icmpType: 135))
        #expect(nd.steps[0].findings.contains { $0.text == "allowed for every filtered port: ND, RS, MLD" })
        #expect(nd.findingTexts.contains("not tracked: conntrack leaves neighbour discovery and MLD alone"))
        #expect(nd.reply == nil)  // neighbour solicitations get no traced answer
    }

    @Test func remoteGroupRulesMatchMembersAcrossHostsAndOnlyThem() throws {
        // web (hv1) -> db (hv2): db's rule admits members of web, from hv2's set.
        let allowed = try F.trace("web", "db", .tcp(5432))
        #expect(allowed.verdict == .allowed)
        #expect(allowed.steps.map(\.title) == ["egress of port web on hv1", "ingress of port db on hv2"])
        #expect(allowed.steps[1].findings.last?.text == "allowed by group db rule 0: from web (ingress tcp 5432 from group web)")
        #expect(allowed.steps[1].findings.first?.topic == .conntrack)  // the other host tracks it too
        #expect(allowed.reply?.verdict == .allowed)
        // admin may send tcp 22 anywhere, but only web admits admin on 22, and db is not web.
        #expect(try F.trace("admin", "web", .tcp(22)).verdict == .allowed)
        #expect(try F.trace("cli", "web", .tcp(22)).verdict == .dropped)
        // web's egress rule to db names db's members: cli is not one.
        #expect(try F.trace("web", "cli", .tcp(5432)).reason.contains("no egress rule of groups [web]"))
    }

    @Test func addressPairsAreTheirPortsAddressesForSourcesDestinationsAndRemoteGroups() throws {
        // Sending from a pair address (with the pair's own MAC) passes port security.
        let fromPair = try F.trace("web", "db", .tcp(5432), fromIP: "10.0.0.101")
        #expect(fromPair.verdict == .allowed)
        #expect(fromPair.steps[0].findings[0].text == "passed: source MAC 52:54:00:00:aa:01 with 10.0.0.101 is the port's")
        // A pair address as destination is its port.
        let toPair = try F.trace("cli", "10.0.0.100", .tcp(80))
        #expect(toPair.destination.port == "web" && toPair.verdict == .allowed)
    }

    @Test func spoofedSourceAddressIsDroppedByPortSecurity() throws {
        let trace = try F.trace("cli", "web", .tcp(80), fromIP: "10.0.0.99")
        #expect(trace.verdict == .dropped)
        #expect(trace.reason == "egress of port cli on hv1: dropped: IPv4 source not the port's")
        #expect(trace.steps[0].findings[0].location == "bridge secgroups port-security-ipv4 #4")
        let v6 = try F.trace("cli", "web", .tcp(80), fromIP: "fd00::99")
        #expect(v6.reason.hasSuffix("IPv6 source not the port's"))
    }

    @Test func portsOnDifferentNetworksAreIsolatedByNameAndByAddress() throws {
        let byName = try F.trace("cli", "twin", .ping(.ipv4))
        #expect(byName.verdict == .dropped && byName.steps.map(\.kind) == [.path])
        #expect(byName.reason.contains("networks are isolated at L2"))
        // 10.0.0.7 is free's, on n2; from cli on n1 nothing answers it.
        let byAddress = try F.trace("cli", "10.0.0.7", .ping(.ipv4))
        #expect(byAddress.verdict == .dropped)
        #expect(byAddress.reason.hasPrefix("10.0.0.7 is port free's, on network n2"))
        // The same address on both networks: each side reaches its own.
        #expect(try F.trace("cli", "10.0.0.2", .tcp(80)).destination.port == "web")
        #expect(try F.trace("free", "10.0.0.2", .tcp(80)).destination.port == "twin")
    }

    @Test func anAddressNoPortOfAClosedNetworkHasIsUnreachable() throws {
        let trace = try F.trace("cli", "10.0.0.50", .ping(.ipv4))
        #expect(trace.verdict == .dropped)
        #expect(trace.reason.contains("every other port of it has port security, so none may answer from it"))
        // On n2, free has no port security: it could answer from any address.
        let open = try F.trace("twin", "10.0.0.50", .ping(.ipv4))
        #expect(open.verdict == .allowed && open.destination.port == nil)
    }

    @Test func externalEndpointsGetOnlyThePortSidesChecks() throws {
        // The VLAN network may have anything on its trunk: out is egress only.
        let out = try F.trace("v1", "203.0.113.9", .tcp(443))
        #expect(out.verdict == .allowed)
        #expect(out.steps.map(\.kind) == [.egress, .path])
        #expect(out.reply?.steps.map(\.kind) == [.path, .ingress])
        #expect(out.reply?.verdict == .allowed)
        // In: ingress only, and remote CIDRs decide.
        let gre = try F.trace("198.51.100.7", "web", Probe(proto: .number(47)))
        #expect(gre.verdict == .allowed)
        #expect(gre.steps.map(\.kind) == [.path, .ingress])
        #expect(gre.steps[1].findings.last?.rule == 4)
        #expect(try F.trace("203.0.113.7", "web", Probe(proto: .number(47))).verdict == .dropped)
    }

    @Test func statelessGroupsNeedRulesForTheReplyAndAreNotTracked() throws {
        let tracked = try F.trace("sl1", "sl2", .udp(53, from: 40001))
        #expect(tracked.verdict == .allowed && tracked.reply?.verdict == .allowed)
        #expect(tracked.findingTexts.contains { $0.hasPrefix("not tracked: neither end on this host is a port in stateful groups") })
        #expect(tracked.reply?.steps.last?.findings.last?.rule == 3)
        // From a source port the rules don't open, the reply is dropped.
        let noReply = try F.trace("sl1", "sl2", .udp(53, from: 41000))
        #expect(noReply.verdict == .allowed && noReply.reply?.verdict == .dropped)
        #expect(!noReply.roundTripAllowed)
        #expect(noReply.reply?.reason == "egress of port sl2 on hv2: dropped: no egress rule of groups [sl] allows it")
    }

    @Test func statefulPortsConnectionToAStatelessPortOnItsHostIsTrackedSoTheReplyPassesIt() throws {
        // cli is stateful without ingress rules; sl1, on the same host, is in
        // a stateless group whose rules admit the request and the reply.
        let trace = try F.trace("cli", "sl1", .udp(53, from: 40005))
        #expect(trace.verdict == .allowed && trace.reply?.verdict == .allowed)
        #expect(trace.steps[0].findings.contains { $0.text.hasPrefix("new connection in zone") })
        #expect(trace.reply?.steps.flatMap(\.findings).contains { $0.text.hasPrefix("established") } == true)
        // The stateless port still needs its own rule for the reply.
        let noReply = try F.trace("cli", "sl1", .udp(53, from: 41000))
        #expect(noReply.verdict == .allowed && noReply.reply?.verdict == .dropped)
    }

    @Test func portWithoutPortSecurityIsNeitherCheckedNorFiltered() throws {
        let trace = try F.trace("free", "twin", .tcp(9999), fromIP: nil)
        #expect(trace.verdict == .allowed)
        #expect(trace.steps[0].findings[0].text == "off for this port: its frames are neither checked nor filtered")
        #expect(trace.steps[0].findings.last?.text == "not filtered: the port has no port security")
        let toFree = try F.trace("twin", "free", .tcp(9999))
        #expect(toFree.steps[1].findings.last?.text == "not filtered: the port has no port security")
    }

    @Test func ethertypeProtocolNumbersICMPTypesAndAnyProtocolFollowTheRules() throws {
        // udp 53 is open on web over IPv6 only.
        #expect(try F.trace("cli", "web", .udp(53), ethertype: .ipv6).verdict == .allowed)
        #expect(try F.trace("cli", "web", .udp(53)).verdict == .dropped)
        #expect(try F.trace("cli", "fd00::2", .udp(53)).verdict == .allowed)
        // ICMP echo is open on web; timestamp is not; ICMPv6 echo is not.
        #expect(try F.trace("cli", "web", .ping(.ipv4)).verdict == .allowed)
        #expect(try F.trace("cli", "web", Probe(proto: .icmp, icmpType: 13)).verdict == .dropped)
        #expect(try F.trace("cli", "web", .ping(.ipv6)).verdict == .dropped)
        // "any" stands for a protocol no rule names: only open groups admit it.
        #expect(try F.trace("cli", "web", Probe(proto: .any)).verdict == .dropped)
        let open = try F.trace("free", "twin", Probe(proto: .any))
        #expect(open.verdict == .allowed && open.packet.hasPrefix("protocol 253 "))
    }

    @Test func vlanNetworksCrossHostsOverTheTrunk() throws {
        let trace = try F.trace("v1", "v2", .tcp(80))
        #expect(trace.verdict == .allowed)
        #expect(trace.steps.map(\.title) == ["egress of port v1 on hv1", "ingress of port v2 on hv2"])
        #expect(trace.findingTexts.contains("new connection in zone 300"))
        #expect(trace.reply?.verdict == .allowed)
        // Without an uplink on hv2 the VLAN can't reach it.
        var policy = F.policy
        policy.hosts[1].uplink = nil
        let cut = try F.trace("v1", "v2", .tcp(80), policy: policy)
        #expect(cut.verdict == .dropped && cut.reason.contains("has no VLAN trunk"))
    }

    @Test func inputThatCantBeTracedIsRefusedNamingWhatIsWrong() {
        func message(_ body: () throws -> Trace) -> String? {
            do { _ = try body(); return nil } catch { return "\(error)" }
        }
        #expect(message { try F.trace("wbe", "cli", .tcp(80)) }?.contains("no port \"wbe\" in the policy (did you mean \"web\"?)") == true)
        #expect(message { try F.trace("cli", "fd00::2", .tcp(80), fromIP: "10.0.0.1") } == "source 10.0.0.1 is IPv4 but destination fd00::2 is IPv6")
        #expect(message { try F.trace("cli", "web", Probe(proto: .tcp)) } == "--dport is needed for tcp")
        #expect(message { try F.trace("cli", "web", Probe(proto: .icmp, destinationPort: 1)) }?.contains("apply to tcp, udp and sctp only") == true)
        #expect(message { try F.trace("203.0.113.1", "203.0.113.2", .tcp(80)) }?.contains("a trace needs a port at one end") == true)
        #expect(message { try F.trace("admin", "web", .tcp(80), ethertype: .ipv6) }?.contains("port admin has no IPv6 address") == true)
        #expect(message { try F.trace("10.0.0.2", "203.0.113.2", .tcp(80)) }?.contains("web (network n1), twin (network n2)") == true)
    }

    @Test func jsonHasTheVerdictTheStepsAndTheDecidingRule() throws {
        let data = try JSONEncoder().encode(try F.trace("cli", "web", .tcp(80)))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["verdict"] as? String == "allowed")
        let steps = try #require(object["steps"] as? [[String: Any]])
        let findings = try #require(steps.last?["findings"] as? [[String: Any]])
        #expect(findings.last?["group"] as? String == "web")
        #expect(findings.last?["rule"] as? Int == 0)
        #expect((object["reply"] as? [String: Any])?["verdict"] as? String == "allowed")
    }

    @Test func textShowsNumberedStepsRuleLocationsAndBothVerdicts() throws {
        let text = TraceText.render(try F.trace("cli", "web", .tcp(80)))
        #expect(text.hasPrefix("trace tcp 10.0.0.1:49152 -> 10.0.0.2:80\n  from port cli (10.0.0.1, host hv1, device tap-cli, network n1)\n"))
        #expect(text.contains("1. egress of port cli on hv1\n"))
        #expect(text.contains("2. ingress of port web on hv1\n"))
        #expect(text.contains("at inet secgroups sg/web/ingress #0\n"))
        #expect(text.contains("\nverdict: allowed ("))
        #expect(text.contains("\nreply verdict: allowed ("))
    }
}
