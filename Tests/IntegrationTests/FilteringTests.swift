import Foundation
import Testing

/// What security-group rules let through, with real packets between VMs on
/// one host (policy-format.md, semantics 3 and 5).
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct FilteringTests {
    @Test func ingressByCIDRAdmitsOnlyThatPrefix() async throws {
        try await Topology.with("cidr") { t in
            let hv = try await t.host("hv1")
            let inside = try await hv.vm("in", 10)  // 10.0.0.10, fd00::10
            let outside = try await hv.vm("out", 20)  // 10.0.0.20, fd00::20
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("srv", [
                Rule.ingress(["remote": ["cidr": "10.0.0.8/29"]]),
                Rule.ingress(["remote": ["cidr": "fd00::10/128"]]),
            ])
            policy.port(inside, groups: ["client"])
            policy.port(outside, groups: ["client"])
            policy.port(server, groups: ["srv"])
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "80")

            await t.expect([
                inside.reaches(server.ipv4, .ping),
                inside.reaches(server.ipv4, .tcp(80)),
                inside.reaches(server.ipv6, .ping),
                inside.reaches(server.ipv6, .tcp(80)),
                outside.doesNotReach(server.ipv4, .ping),
                outside.doesNotReach(server.ipv4, .tcp(80)),
                outside.doesNotReach(server.ipv6, .ping),
            ])
        }
    }

    @Test func ingressByPortAndPortRangeAdmitsOnlyThosePorts() async throws {
        try await Topology.with("ports") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("srv", [
                Rule.ingress(["protocol": "tcp", "ports": ["80", "8000-8002"]]),
                Rule.ingress(["protocol": "udp", "ports": "53"]),
            ])
            policy.port(client, groups: ["client"])
            policy.port(server, groups: ["srv"])
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "22,53,80,7999-8003", udp: "53,54")

            await t.expect([
                client.reaches(server.ipv4, .tcp(80)),
                client.reaches(server.ipv4, .tcp(8000)),
                client.reaches(server.ipv4, .tcp(8002)),
                client.reaches(server.ipv6, .tcp(8001)),
                client.reaches(server.ipv4, .udp(53)),
                client.doesNotReach(server.ipv4, .tcp(22)),
                client.doesNotReach(server.ipv4, .tcp(7999)),
                client.doesNotReach(server.ipv4, .tcp(8003)),
                client.doesNotReach(server.ipv4, .tcp(53)),  // the port is allowed for UDP only
                client.doesNotReach(server.ipv4, .udp(54)),
                client.doesNotReach(server.ipv4, .ping),
            ])
        }
    }

    @Test func ingressByProtocolNumberAdmitsOnlyThatProtocol() async throws {
        try await Topology.with("proto") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("srv", [
                Rule.ingress(["protocol": 47]),  // GRE
                Rule.ingress(["protocol": 17]),  // UDP, by number, all ports
            ])
            policy.port(client, groups: ["client"])
            policy.port(server, groups: ["srv"])
            try await hv.mustApply(policy)
            let listener = try await server.serve(tcp: "80", udp: "53,5000", raw: "47,50")

            for (proto, marker) in [(47, "gre-from-cli"), (50, "esp-from-cli")] {
                _ = try await client.exec([Paths.script("probe.py"), "raw", server.ipv4, "\(proto)", "--data", marker])
            }
            await t.expect(await listener.saw("raw 47 \(client.ipv4) gre-from-cli"),
                           "protocol 47 is allowed but did not arrive; server log:\n\(listener.log)")
            await t.expect(!(await listener.saw("esp-from-cli")),
                           "protocol 50 is not allowed but arrived; server log:\n\(listener.log)")
            await t.expect([
                client.reaches(server.ipv4, .udp(53)),
                client.reaches(server.ipv4, .udp(5000)),
                client.doesNotReach(server.ipv4, .tcp(80)),
                client.doesNotReach(server.ipv4, .ping),
            ])
        }
    }

    @Test func ingressByICMPTypeAndCodeAdmitsOnlyThoseMessages() async throws {
        try await Topology.with("icmp") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("srv", [
                Rule.ingress(["protocol": "icmp", "icmp": ["type": 8]]),
                Rule.ingress(["protocol": "icmp", "icmp": ["type": 13, "code": 0]]),
                Rule.ingress(["protocol": "icmpv6", "icmp": ["type": 128]]),
            ])
            policy.port(client, groups: ["client"])
            policy.port(server, groups: ["srv"])
            try await hv.mustApply(policy)
            let listener = try await server.serve(icmp: true)

            await t.expect([client.reaches(server.ipv4, .ping), client.reaches(server.ipv6, .ping)])
            // Query types that connection tracking treats as new connections,
            // so only the rules decide: timestamp (13), address mask (17), node information (139).
            for (type, code, address) in [(13, 0, server.ipv4), (13, 1, server.ipv4), (17, 0, server.ipv4), (139, 0, server.ipv6)] {
                _ = try await client.exec([Paths.script("probe.py"), "icmp", address, "\(type)", "--code", "\(code)"])
            }
            await t.expect(await listener.saw("icmp 13 \(client.ipv4)"),
                           "ICMP type 13 code 0 is allowed but did not arrive; server log:\n\(listener.log)")
            let log = listener.log
            await t.expect(log.components(separatedBy: "icmp 13 ").count - 1 == 1,
                           "only the code 0 timestamp request may arrive, not the code 1 one; server log:\n\(log)")
            await t.expect(!log.contains("icmp 17 "), "ICMP type 17 is not allowed but arrived; server log:\n\(log)")
            await t.expect(!log.contains("icmp6 139 "), "ICMPv6 type 139 is not allowed but arrived; server log:\n\(log)")
        }
    }

    @Test func remoteGroupRulesMatchOnlyTheGroupsMembers() async throws {
        try await Topology.with("rgroup") { t in
            let hv = try await t.host("hv1")
            let member = try await hv.vm("member", 1)
            let stranger = try await hv.vm("strngr", 3)
            let web = try await hv.vm("web", 2)
            let other = try await hv.vm("other", 4)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("clients", [Rule.egress(["remote": ["group": "web"]])])
            policy.group("strangers", [Rule.egress()])
            policy.group("web", [Rule.ingress(["protocol": "tcp", "ports": "80", "remote": ["group": "clients"]])])
            policy.group("public", [Rule.ingress()])
            policy.port(member, groups: ["clients"])
            policy.port(stranger, groups: ["strangers"])
            policy.port(web, groups: ["web"])
            policy.port(other, groups: ["public"])
            try await hv.mustApply(policy)
            _ = try await web.serve(tcp: "80")
            _ = try await other.serve(tcp: "80")

            await t.expect([
                member.reaches(web.ipv4, .tcp(80)),
                member.reaches(web.ipv6, .tcp(80)),
                // Ingress from a non-member is not admitted.
                stranger.doesNotReach(web.ipv4, .tcp(80)),
                stranger.doesNotReach(web.ipv6, .tcp(80)),
                // Egress to a non-member of "web" is not allowed, though it admits anything.
                member.doesNotReach(other.ipv4, .tcp(80)),
                stranger.reaches(other.ipv4, .tcp(80)),
            ])
        }
    }

    @Test func rulesOfTwoGroupsOnOnePortCombine() async throws {
        try await Topology.with("combine") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let both = try await hv.vm("both", 2)
            let onlyHTTP = try await hv.vm("http", 3)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("http", [Rule.ingress(["protocol": "tcp", "ports": "80"])])
            policy.group("https", [Rule.ingress(["protocol": "tcp", "ports": "443"])])
            policy.port(client, groups: ["client"])
            policy.port(both, groups: ["http", "https"])
            policy.port(onlyHTTP, groups: ["http"])
            try await hv.mustApply(policy)
            _ = try await both.serve(tcp: "22,80,443")
            _ = try await onlyHTTP.serve(tcp: "80,443")

            await t.expect([
                client.reaches(both.ipv4, .tcp(80)),
                client.reaches(both.ipv4, .tcp(443)),
                client.doesNotReach(both.ipv4, .tcp(22)),
                client.reaches(onlyHTTP.ipv4, .tcp(80)),
                client.doesNotReach(onlyHTTP.ipv4, .tcp(443)),
            ])
        }
    }

    @Test func portWithoutGroupsGetsOnlyARPNeighbourDiscoveryAndDHCP() async throws {
        try await Topology.with("nogroups") { t in
            let hv = try await t.host("hv1")
            let bare = try await hv.vm("bare", 5)
            let open = try await hv.vm("open", 1)
            let dhcpServer = try await hv.vm("dhcp", 9)  // port security off, like a network's DHCP agent
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("open", Rule.open)
            policy.port(bare)
            policy.port(open, groups: ["open"])
            policy.port(dhcpServer, portSecurity: false)
            try await hv.mustApply(policy)
            _ = try await bare.serve(tcp: "80")
            _ = try await open.serve(tcp: "80")

            await t.expect([
                open.doesNotReach(bare.ipv4, .ping),
                open.doesNotReach(bare.ipv4, .tcp(80)),
                open.doesNotReach(bare.ipv6, .ping),
                bare.doesNotReach(open.ipv4, .ping),
                bare.doesNotReach(open.ipv4, .tcp(80)),
                bare.doesNotReach(open.ipv6, .tcp(80)),
            ])
            // ARP and neighbour discovery did pass: each side resolved the other.
            for (from, to) in [(open, bare), (bare, open)] {
                for address in [to.ipv4, to.ipv6] {
                    let neigh = try await from.exec(["ip", "neigh", "show", address, "dev", "eth0"])
                    await t.expect(neigh.stdout.contains(to.mac),
                                   "\(from.name) should have resolved \(address) to \(to.mac) (ARP/ND always pass): \(neigh.stdout)")
                }
            }

            // DHCP: the bare port's discovery goes out, a server's offer comes in;
            // other UDP from port 68 doesn't go out and other UDP to it doesn't come in.
            let atOpen = try await open.sniff(["dhcp-discover", "udp-out"])
            let atBare = try await bare.sniff(["dhcp-offer", "dhcpv6-reply", "router-adv", "udp-in"])
            try await bare.sendFrames([
                "Ether(src='\(bare.mac)', dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(chaddr=mac2str('\(bare.mac)'))/DHCP(options=[('message-type', 'discover'), 'end'])/Raw(b'dhcp-discover')",
                "Ether(src='\(bare.mac)', dst='\(open.mac)')/IP(src='\(bare.ipv4)', dst='\(open.ipv4)')/UDP(sport=68, dport=1067)/Raw(b'udp-out')",
            ])
            try await dhcpServer.sendFrames([
                "Ether(src='\(dhcpServer.mac)', dst='\(bare.mac)')/IP(src='\(dhcpServer.ipv4)', dst='\(bare.ipv4)')/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr='\(bare.ipv4)')/DHCP(options=[('message-type', 'offer'), 'end'])/Raw(b'dhcp-offer')",
                "Ether(src='\(dhcpServer.mac)', dst='\(bare.mac)')/IPv6(src='\(dhcpServer.linkLocal)', dst='\(bare.linkLocal)')/UDP(sport=547, dport=546)/Raw(b'dhcpv6-reply')",
                "Ether(src='\(dhcpServer.mac)', dst='\(bare.mac)')/IPv6(src='\(dhcpServer.linkLocal)', dst='\(bare.linkLocal)')/ICMPv6ND_RA()/Raw(b'router-adv')",
                "Ether(src='\(dhcpServer.mac)', dst='\(bare.mac)')/IP(src='\(dhcpServer.ipv4)', dst='\(bare.ipv4)')/UDP(sport=1067, dport=68)/Raw(b'udp-in')",
            ])
            for marker in ["dhcp-offer", "dhcpv6-reply", "router-adv"] {
                await t.expect(await atBare.waitFor("seen \(marker)", timeout: .seconds(2)),
                               "\(marker) should reach the port without groups; sniffer saw: \(atBare.lines)")
            }
            await t.expect(await atOpen.waitFor("seen dhcp-discover", timeout: .seconds(2)),
                           "the DHCP discovery of the port without groups should go out; sniffer saw: \(atOpen.lines)")
            try await Task.sleep(for: .milliseconds(500))
            await t.expect(!atBare.stdout.contains("udp-in"), "UDP other than DHCP replies reached the port without groups")
            await t.expect(!atOpen.stdout.contains("udp-out"), "UDP other than DHCP requests left the port without groups")
        }
    }
}
