import Foundation
import Testing

/// Anti-spoofing (policy-format.md, semantics 2 and 6), with frames crafted
/// by scapy in the sending VM and watched for on the receiving VM's eth0.
/// Each forged frame has a twin that differs only in what makes it forged
/// and must arrive, so a missing frame means a drop, not a broken sender.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct PortSecurityTests {
    @Test func forgedMACIPARPDHCPServerAndRouterAdvertisementFramesAreDropped() async throws {
        try await Topology.with("spoof") { t in
            let hv = try await t.host("hv1")
            let sender = try await hv.vm("sender", 1)
            let receiver = try await hv.vm("rcv", 2)
            let victim = try await hv.vm("victim", 3)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("open", Rule.open)
            for vm in [sender, receiver, victim] { policy.port(vm, groups: ["open"]) }
            try await hv.mustApply(policy)

            let (s, r) = (sender, receiver)
            let toR = "Ether(src='\(s.mac)', dst='\(r.mac)')"
            let frames: [(marker: String, forged: Bool, frame: String)] = [
                ("ok-ipv4", false, "\(toR)/IP(src='\(s.ipv4)', dst='\(r.ipv4)')/UDP(sport=1234, dport=9)"),
                ("bad-mac", true, "Ether(src='52:54:00:99:99:99', dst='\(r.mac)')/IP(src='\(s.ipv4)', dst='\(r.ipv4)')/UDP(sport=1234, dport=9)"),
                ("bad-ipv4-other", true, "\(toR)/IP(src='10.0.0.99', dst='\(r.ipv4)')/UDP(sport=1234, dport=9)"),
                ("bad-ipv4-victim", true, "\(toR)/IP(src='\(victim.ipv4)', dst='\(r.ipv4)')/UDP(sport=1234, dport=9)"),
                ("ok-ipv6-global", false, "\(toR)/IPv6(src='\(s.ipv6)', dst='\(r.ipv6)')/UDP(sport=1234, dport=9)"),
                ("ok-ipv6-ll", false, "\(toR)/IPv6(src='\(s.linkLocal)', dst='\(r.linkLocal)')/UDP(sport=1234, dport=9)"),
                ("bad-ipv6-global", true, "\(toR)/IPv6(src='fd00::99', dst='\(r.ipv6)')/UDP(sport=1234, dport=9)"),
                ("bad-ipv6-ll", true, "\(toR)/IPv6(src='fe80::99', dst='\(r.linkLocal)')/UDP(sport=1234, dport=9)"),
                ("ok-arp", false, "\(toR)/ARP(op=2, hwsrc='\(s.mac)', psrc='\(s.ipv4)', hwdst='\(r.mac)', pdst='\(r.ipv4)')/Padding(load=b'ok-arp')"),
                ("bad-arp-ip", true, "\(toR)/ARP(op=2, hwsrc='\(s.mac)', psrc='\(victim.ipv4)', hwdst='\(r.mac)', pdst='\(r.ipv4)')/Padding(load=b'bad-arp-ip')"),
                ("bad-arp-mac", true, "\(toR)/ARP(op=2, hwsrc='\(victim.mac)', psrc='\(s.ipv4)', hwdst='\(r.mac)', pdst='\(r.ipv4)')/Padding(load=b'bad-arp-mac')"),
                ("ok-udp-68", false, "\(toR)/IP(src='\(s.ipv4)', dst='\(r.ipv4)')/UDP(sport=1067, dport=68)"),
                ("bad-dhcp-server", true, "\(toR)/IP(src='\(s.ipv4)', dst='\(r.ipv4)')/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr='\(r.ipv4)')/DHCP(options=[('message-type', 'offer'), 'end'])"),
                ("ok-udp-546", false, "\(toR)/IPv6(src='\(s.linkLocal)', dst='\(r.linkLocal)')/UDP(sport=1547, dport=546)"),
                ("bad-dhcpv6-server", true, "\(toR)/IPv6(src='\(s.linkLocal)', dst='\(r.linkLocal)')/UDP(sport=547, dport=546)"),
                ("ok-echo6", false, "\(toR)/IPv6(src='\(s.linkLocal)', dst='\(r.linkLocal)')/ICMPv6EchoRequest()"),
                ("bad-ra-unicast", true, "\(toR)/IPv6(src='\(s.linkLocal)', dst='\(r.linkLocal)')/ICMPv6ND_RA()"),
                ("bad-ra-multicast", true, "Ether(src='\(s.mac)', dst='33:33:00:00:00:01')/IPv6(src='\(s.linkLocal)', dst='ff02::1')/ICMPv6ND_RA()"),
                ("bad-redirect", true, "\(toR)/IPv6(src='\(s.linkLocal)', dst='\(r.linkLocal)')/ICMPv6ND_Redirect(tgt='\(victim.linkLocal)', dst='\(victim.ipv6)')"),
                ("bad-ethertype", true, "Ether(src='\(s.mac)', dst='\(r.mac)', type=0x88b5)"),
            ]
            let sniffer = try await receiver.sniff(frames.map(\.marker))
            // The marker rides in the payload (ARP: in the padding).
            try await sender.sendFrames(frames.map { $0.frame.contains("Padding") ? $0.frame : "\($0.frame)/Raw(b'\($0.marker)')" })

            for frame in frames where !frame.forged {
                await t.expect(await sniffer.waitFor("seen \(frame.marker)\n", timeout: .seconds(3)),
                               "the genuine frame \(frame.marker) should arrive: \(frame.frame); sniffer saw \(sniffer.lines)")
            }
            try await Task.sleep(for: .milliseconds(500))
            let seen = Set(sniffer.lines)
            for frame in frames where frame.forged {
                await t.expect(!seen.contains("seen \(frame.marker)"), "the forged frame \(frame.marker) arrived: \(frame.frame)")
            }
        }
    }

    @Test func allowedAddressPairsLetAPortUseExtraAddressesAndNoOthers() async throws {
        try await Topology.with("pairs") { t in
            let hv = try await t.host("hv1")
            let vip = try await hv.vm("vip", 1)
            // A second guest behind the same port with its own MAC (a macvlan), as a container would be.
            let nested = try await t.addNamespace("nested")
            let peer = try await hv.vm("peer", 2)
            let guarded = try await hv.vm("guard", 3)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("vip", Rule.open)
            policy.group("open", Rule.open)
            policy.group("from-vip", [Rule.ingress(["remote": ["group": "vip"]])])
            policy.port(vip, groups: ["vip"], addressPairs: [
                ["ip": "10.0.0.100/32"], ["ip": "fd00::100"], ["ip": "10.0.0.101", "mac": "52:54:00:00:aa:01"],
            ])
            policy.port(peer, groups: ["open"])
            policy.port(guarded, groups: ["from-vip"])
            try await hv.mustApply(policy)

            try await vip.mustExec(["ip", "addr", "add", "10.0.0.100/24", "dev", "eth0"])
            try await vip.mustExec(["ip", "addr", "add", "fd00::100/64", "dev", "eth0"])
            try await vip.mustExec(["ip", "addr", "add", "10.0.0.102/24", "dev", "eth0"])  // not a pair
            try await vip.mustExec(["ip", "link", "add", "mv0", "link", "eth0", "netns", nested, "address", "52:54:00:00:aa:01", "type", "macvlan", "mode", "bridge"])
            try await Shell.must(["ip", "-n", nested, "addr", "add", "10.0.0.101/24", "dev", "mv0"])
            try await Shell.must(["ip", "-n", nested, "link", "set", "mv0", "up"])

            await t.expect([
                peer.reaches("10.0.0.100", .ping),
                peer.reaches("fd00::100", .ping),
                peer.reaches("10.0.0.101", .ping),
                peer.doesNotReach("10.0.0.102", .ping),
                // Remote-group rules match the members' address pairs too.
                vip.reaches(guarded.ipv4, .pingFrom("10.0.0.100")),
                vip.reaches(guarded.ipv6, .pingFrom("fd00::100")),
                vip.doesNotReach(guarded.ipv4, .pingFrom("10.0.0.102")),
                peer.doesNotReach(guarded.ipv4, .ping),
            ])
            let fromNested = try await Shell.run(["ip", "netns", "exec", nested, "ping", "-n", "-c", "1", "-W", "2", guarded.ipv4])
            await t.expect(fromNested.succeeded, "the pair 10.0.0.101 with its own MAC should reach a port that admits the group: \(fromNested)")
        }
    }

    @Test func portWithPortSecurityOffIsNeitherFilteredNorCheckedButStaysInItsNetwork() async throws {
        try await Topology.with("psoff") { t in
            let hv = try await t.host("hv1")
            let free = try await hv.vm("free", 1)
            let open = try await hv.vm("open", 2)
            let bare = try await hv.vm("bare", 3)  // port security on, no groups: for contrast
            let elsewhere = try await hv.vm("else", 4, network: "n2")
            var policy = PolicyDoc.oneNetwork(hv)
            policy.network("n2", vni: 200)
            policy.group("open", Rule.open)
            policy.port(free, portSecurity: false)
            policy.port(open, groups: ["open"])
            policy.port(bare)
            policy.port(elsewhere, groups: ["open"])
            try await hv.mustApply(policy)
            _ = try await free.serve(tcp: "12345")
            _ = try await bare.serve(tcp: "12345")
            _ = try await open.serve(tcp: "12345")

            await t.expect([
                open.reaches(free.ipv4, .tcp(12345)),
                open.reaches(free.ipv6, .ping),
                free.reaches(open.ipv4, .tcp(12345)),
                open.doesNotReach(bare.ipv4, .tcp(12345)),
                free.doesNotReach(elsewhere.ipv4, .ping),
            ])
            let atOpen = try await open.sniff(["forged-from-free", "ra-from-free"])
            let atElsewhere = try await elsewhere.sniff(["forged-from-free"])
            try await free.sendFrames([
                "Ether(src='52:54:00:99:99:98', dst='ff:ff:ff:ff:ff:ff')/IP(src='10.0.0.98', dst='\(open.ipv4)')/UDP(sport=67, dport=68)/Raw(b'forged-from-free')",
                "Ether(src='\(free.mac)', dst='\(open.mac)')/IPv6(src='\(free.linkLocal)', dst='\(open.linkLocal)')/ICMPv6ND_RA()/Raw(b'ra-from-free')",
            ])
            await t.expect(await atOpen.waitFor("seen forged-from-free", timeout: .seconds(2)),
                           "a port without port security may send any source MAC and IP: \(atOpen.lines)")
            await t.expect(await atOpen.waitFor("seen ra-from-free", timeout: .seconds(2)),
                           "a port without port security may send router advertisements: \(atOpen.lines)")
            await t.expect(!atElsewhere.stdout.contains("forged-from-free"),
                           "the broadcast of a port without port security crossed into another network")
        }
    }
}
