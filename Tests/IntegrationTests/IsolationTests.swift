import Foundation
import Testing

/// L2 isolation between networks (policy-format.md, semantics 1), on one
/// host and across hosts over VXLAN.
///
/// No VLAN scenario: this machine's kernel has no bridge VLAN filtering and
/// no 802.1Q devices (kernel-notes.md), so VLAN networks can't be carried
/// here; `ApplyTests` checks that such a policy is refused without changes.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct IsolationTests {
    @Test func twoNetworksOnOneHostAreIsolated() async throws {
        try await Topology.with("2nets") { t in
            let hv = try await t.host("hv1")
            let a1 = try await hv.vm("a1", 1, network: "n1")
            let a2 = try await hv.vm("a2", 2, network: "n1")
            let b3 = try await hv.vm("b3", 3, network: "n2")
            let b4 = try await hv.vm("b4", 4, network: "n2")
            var policy = PolicyDoc.oneNetwork(hv)
            policy.network("n2", vni: 200)
            policy.group("open", Rule.open)
            for vm in [a1, a2, b3, b4] { policy.port(vm, groups: ["open"]) }
            try await hv.mustApply(policy)

            await t.expect([
                a1.reaches(a2.ipv4, .ping),
                b3.reaches(b4.ipv4, .ping),
                a1.doesNotReach(b3.ipv4, .ping),
                a1.doesNotReach(b3.ipv6, .ping),
                b4.doesNotReach(a2.ipv4, .ping),
                b4.doesNotReach(a2.ipv6, .ping),
            ])
            // Not even broadcasts cross.
            let sameNetwork = try await a2.sniff(["bcast-from-a1"])
            let otherNetwork = try await b3.sniff(["bcast-from-a1"])
            try await a1.sendFrames([
                "Ether(src='\(a1.mac)', dst='ff:ff:ff:ff:ff:ff')/IP(src='\(a1.ipv4)', dst='10.0.0.255')/UDP(sport=1234, dport=9)/Raw(b'bcast-from-a1')"
            ])
            await t.expect(await sameNetwork.waitFor("seen bcast-from-a1", timeout: .seconds(2)),
                           "a broadcast should reach the same network: \(sameNetwork.lines)")
            await t.expect(!otherNetwork.stdout.contains("bcast-from-a1"), "a broadcast crossed into another network")
        }
    }

    @Test func identicalSubnetsAndAddressesOnTwoNetworksCarryIdenticalFlowsEachFilteredByItsOwnGroups() async throws {
        try await Topology.with("twins") { t in
            let hv = try await t.host("hv1")
            // Same MACs, same addresses, same source port: identical 5-tuples at once.
            let client1 = try await hv.vm("c1", 1, network: "n1")
            let server1 = try await hv.vm("s1", 2, network: "n1")
            let client2 = try await hv.vm("c2", 1, network: "n2")
            let server2 = try await hv.vm("s2", 2, network: "n2")
            var policy = PolicyDoc.oneNetwork(hv)
            policy.network("n2", vni: 200)
            policy.group("client", [Rule.egress()])
            policy.group("web1", [Rule.ingress(["protocol": "tcp", "ports": ["80", "443"]])])
            policy.group("web2", [Rule.ingress(["protocol": "tcp", "ports": "80"])])
            policy.port(client1, groups: ["client"])
            policy.port(client2, groups: ["client"])
            policy.port(server1, groups: ["web1"])
            policy.port(server2, groups: ["web2"])
            try await hv.mustApply(policy)
            let log1 = try await server1.serve(tcp: "80,443")
            let log2 = try await server2.serve(tcp: "80,443")

            let flow1 = try await client1.hold(tcp: 80, to: "10.0.0.2", sourcePort: 40000)
            let flow2 = try await client2.hold(tcp: 80, to: "10.0.0.2", sourcePort: 40000)
            try #require(await flow1.waitFor("ok 3", timeout: Slowness.processStart), "flow in n1 did not start: \(flow1.lines)")
            try #require(await flow2.waitFor("ok 3", timeout: Slowness.processStart), "flow in n2 did not start: \(flow2.lines)")
            let connections = { (server: Server) in server.log.components(separatedBy: "tcp 80 10.0.0.1 40000").count - 1 }
            await t.expect(connections(log1) == 1 && connections(log2) == 1,
                           "each server should have exactly its own client's connection: n1 \(log1.log) n2 \(log2.log)")
            let flows = try await hv.conntrackEntries().filter { $0.contains("sport=40000 dport=80") }
            let zones = Set(flows.compactMap { $0.split(separator: " ").first { $0.hasPrefix("zone=") } })
            await t.expect(flows.count == 2 && zones.count == 2,
                           "the two identical flows should be tracked apart, in two zones: \(flows)")

            await t.expect([
                client1.reaches("10.0.0.2", .tcp(443)),
                client2.doesNotReach("10.0.0.2", .tcp(443)),
            ])

            // Taking port 80 away in n2 stops n2's flow only.
            policy.setRules(of: "web2", [Rule.ingress(["protocol": "tcp", "ports": "8080"])])
            try await hv.mustApply(policy)
            await t.expect(await flow2.waitFor("broken", timeout: .seconds(3)),
                           "the flow in n2 should stop when n2's server loses its rule: \(flow2.lines.suffix(5))")
            let okSoFar = flow1.lines.count
            try await Task.sleep(for: .seconds(1))
            await t.expect(!flow1.stdout.contains("broken") && flow1.lines.count >= okSoFar + 3,
                           "the identical flow in n1 should go on: \(flow1.lines.suffix(5))")
        }
    }

    @Test func vxlanCarriesEachNetworkAcrossHostsAndKeepsNetworksApart() async throws {
        try await Topology.with("vxlan") { t in
            let hv1 = try await t.host("hv1", vtep: "192.0.2.1")
            let hv2 = try await t.host("hv2", vtep: "192.0.2.2")
            // n1 spans both hosts; n2 reuses n1's addresses on both hosts.
            let client1 = try await hv1.vm("c1", 1, network: "n1")
            let outsider1 = try await hv1.vm("o1", 3, network: "n1")
            let server1 = try await hv2.vm("s1", 2, network: "n1")
            let client2 = try await hv1.vm("c2", 1, network: "n2", mac: "52:54:00:00:02:01")
            let server2 = try await hv2.vm("s2", 2, network: "n2", mac: "52:54:00:00:02:02")
            var policy = PolicyDoc.oneNetwork(hv1, hv2, vni: 1001)
            policy.network("n2", vni: 1002)
            policy.group("client", [Rule.egress()])
            policy.group("web", [Rule.ingress(["protocol": "tcp", "ports": "80", "remote": ["group": "client"]])])
            policy.port(client1, groups: ["client"])
            policy.group("other", [Rule.egress()])
            policy.port(outsider1, groups: ["other"])
            policy.port(server1, groups: ["web"])
            policy.port(client2, groups: ["client"])
            policy.port(server2, groups: ["web"])
            try await hv1.mustApply(policy)
            try await hv2.mustApply(policy)
            let log1 = try await server1.serve(tcp: "22,80")
            let log2 = try await server2.serve(tcp: "22,80")

            await t.expect([
                // Across hosts, per the rules (the remote group's member is on the other host).
                client1.reaches(server1.ipv4, .tcp(80, sourcePort: 41001)),
                client1.reaches(server1.ipv6, .tcp(80)),
                client1.doesNotReach(server1.ipv4, .tcp(22)),
                client1.doesNotReach(server1.ipv4, .ping),
                outsider1.doesNotReach(server1.ipv4, .tcp(80)),
                client2.reaches(server2.ipv4, .tcp(80, sourcePort: 41002)),
            ])
            // Both servers are 10.0.0.2 and both clients 10.0.0.1: the source
            // ports tell which network's connection reached which server.
            await t.expect(log1.log.contains("tcp 80 10.0.0.1 41001") && !log1.log.contains("41002"),
                           "n1's server should have n1's connection only: \(log1.log)")
            await t.expect(log2.log.contains("tcp 80 10.0.0.1 41002") && !log2.log.contains("41001"),
                           "n2's server should have n2's connection only: \(log2.log)")

            // Broadcasts cross the tunnel within their network only.
            let sameNetwork = try await server1.sniff(["bcast-c1"])
            let otherNetwork = try await server2.sniff(["bcast-c1"])
            // (An ARP request: the servers' groups would filter a UDP broadcast.)
            try await client1.sendFrames([
                "Ether(src='\(client1.mac)', dst='ff:ff:ff:ff:ff:ff')/ARP(op=1, hwsrc='\(client1.mac)', psrc='\(client1.ipv4)', pdst='10.0.0.77')/Padding(load=b'bcast-c1')"
            ])
            await t.expect(await sameNetwork.waitFor("seen bcast-c1", timeout: .seconds(2)),
                           "a broadcast should cross the tunnel within n1: \(sameNetwork.lines)")
            await t.expect(!otherNetwork.stdout.contains("bcast-c1"), "a broadcast of n1 reached n2 on the other host")
        }
    }
}
