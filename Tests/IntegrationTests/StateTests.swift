import Foundation
import Testing

/// Connection tracking (policy-format.md, semantics 4): stateful groups pass
/// replies, stateless groups pass only what their rules say, and taking a
/// permission away stops the connections that relied on it.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct StateTests {
    @Test func statefulGroupsPassRepliesButNotUnsolicitedReverseTraffic() async throws {
        try await Topology.with("stateful") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            // Neither group allows the replies explicitly.
            policy.group("client", [Rule.egress()])
            policy.group("server", [
                Rule.ingress(["protocol": "tcp", "ports": "80"]),
                Rule.ingress(["protocol": "udp", "ports": "53"]),
                Rule.ingress(["protocol": "icmp", "icmp": ["type": 8]]),
            ])
            policy.port(client, groups: ["client"])
            policy.port(server, groups: ["server"])
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "80", udp: "53")
            _ = try await client.serve(tcp: "80", udp: "53")

            await t.expect([
                client.reaches(server.ipv4, .tcp(80)),
                client.reaches(server.ipv4, .udp(53)),
                client.reaches(server.ipv4, .ping),
                client.reaches(server.ipv6, .tcp(80)),
                server.doesNotReach(client.ipv4, .tcp(80)),
                server.doesNotReach(client.ipv4, .udp(53)),
                server.doesNotReach(client.ipv4, .ping),
                server.doesNotReach(client.ipv6, .tcp(80)),
            ])
            let entries = try await hv.conntrackEntries()
            await t.expect(entries.contains { $0.contains("dst=\(server.ipv4)") && $0.contains("dport=80") && $0.contains("zone=") },
                           "conntrack in the host should hold the client's TCP connection in the network's zone: \(entries)")
        }
    }

    @Test func statelessGroupPassesOnlyWhatItsRulesAllowInEachDirectionAndIsNotTracked() async throws {
        try await Topology.with("stateless") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            // The same requests between two ports in a stateful group, for contrast.
            let trackedClient = try await hv.vm("tcli", 3)
            let trackedServer = try await hv.vm("tsrv", 4)
            let requests: [PolicyDoc.Object] = [
                Rule.egress(["protocol": "udp", "ports": "53"]), Rule.ingress(["protocol": "udp", "ports": "53"]),
                Rule.egress(["protocol": "tcp", "ports": "8080"]), Rule.ingress(["protocol": "tcp", "ports": "8080"]),
            ]
            let replies: [PolicyDoc.Object] = [
                Rule.egress(["protocol": "udp", "ports": "40000-40009"]), Rule.ingress(["protocol": "udp", "ports": "40000-40009"]),
                Rule.egress(["protocol": "tcp", "ports": "40000-40009"]), Rule.ingress(["protocol": "tcp", "ports": "40000-40009"]),
            ]
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("sl", stateful: false, requests)
            policy.group("sf", stateful: true, requests)
            policy.port(client, groups: ["sl"])
            policy.port(server, groups: ["sl"])
            policy.port(trackedClient, groups: ["sf"])
            policy.port(trackedServer, groups: ["sf"])
            try await hv.mustApply(policy)
            let listener = try await server.serve(tcp: "8080", udp: "53")
            _ = try await trackedServer.serve(tcp: "8080", udp: "53")

            // Only requests are allowed: they arrive, their replies don't come back.
            await t.expect([
                client.doesNotReach(server.ipv4, .udp(53, sourcePort: 40000)),
                client.doesNotReach(server.ipv4, .tcp(8080, sourcePort: 40001)),
                trackedClient.reaches(trackedServer.ipv4, .udp(53, sourcePort: 40000)),
                trackedClient.reaches(trackedServer.ipv4, .tcp(8080, sourcePort: 40001)),
            ])
            await t.expect(await listener.saw("udp 53 \(client.ipv4) 40000"),
                           "the stateless server should have received the request it allows: \(listener.log)")

            // With rules for the replies, both directions pass (only to those ports).
            policy.setRules(of: "sl", requests + replies)
            try await hv.mustApply(policy)
            await t.expect([
                client.reaches(server.ipv4, .udp(53, sourcePort: 40002)),
                client.reaches(server.ipv4, .tcp(8080, sourcePort: 40003)),
                client.doesNotReach(server.ipv4, .udp(53, sourcePort: 41000)),
                client.doesNotReach(server.ipv4, .tcp(8080, sourcePort: 41001)),
            ])

            // Connection tracking holds the stateful pair's flows and none of the stateless pair's.
            let entries = try await hv.conntrackEntries()
            await t.expect(entries.contains { $0.contains("src=\(trackedClient.ipv4)") && $0.contains("dst=\(trackedServer.ipv4)") },
                           "the stateful pair's flows should be tracked: \(entries)")
            let untracked = entries.filter { $0.contains("=\(client.ipv4) ") || $0.contains("=\(server.ipv4) ") }
            await t.expect(untracked.isEmpty, "the stateless ports' traffic must not be tracked, but conntrack has: \(untracked)")
        }
    }

    @Test func removingARuleStopsEstablishedConnectionsItAllowed() async throws {
        try await Topology.with("rmrule") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("server", [
                Rule.ingress(["protocol": "tcp", "ports": "80"]),
                Rule.ingress(["protocol": "tcp", "ports": "22"]),
            ])
            policy.port(client, groups: ["client"])
            policy.port(server, groups: ["server"])
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "22,80")
            let session = try await client.hold(tcp: 80, to: server.ipv4)
            try #require(await session.waitFor("ok 3", timeout: Slowness.processStart), "session did not start: \(session.lines)")

            // Taking away another rule leaves this connection alone.
            policy.setRules(of: "server", [Rule.ingress(["protocol": "tcp", "ports": "80"])])
            try await hv.mustApply(policy)
            let okSoFar = session.lines.count
            try await Task.sleep(for: .seconds(1.5))
            await t.expect(!session.stdout.contains("broken") && session.lines.count >= okSoFar + 4,
                           "the port 80 session should survive removing the port 22 rule: \(session.lines.suffix(5))")
            await t.expect([client.doesNotReach(server.ipv4, .tcp(22))])

            // Taking away its own rule stops it, established as it is.
            policy.setRules(of: "server", [])
            try await hv.mustApply(policy)
            await t.expect(await session.waitFor("broken", timeout: .seconds(3)),
                           "the established port 80 session should stop when its rule goes: \(session.lines.suffix(5))")
            await t.expect([client.doesNotReach(server.ipv4, .tcp(80))])
        }
    }

    @Test func leavingAGroupStopsEstablishedConnectionsItsMembershipAllowedOnEitherSide() async throws {
        try await Topology.with("leave") { t in
            let hv = try await t.host("hv1")
            let leaver = try await hv.vm("leaver", 1)
            let stayer = try await hv.vm("stayer", 3)
            let server = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("clients", [Rule.egress()])
            policy.group("others", [Rule.egress()])
            policy.group("server", [Rule.ingress(["protocol": "tcp", "ports": "80", "remote": ["group": "clients"]])])
            policy.port(leaver, groups: ["clients"])
            policy.port(stayer, groups: ["clients"])
            policy.port(server, groups: ["server"])
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "80")
            let leaving = try await leaver.hold(tcp: 80, to: server.ipv4)
            let staying = try await stayer.hold(tcp: 80, to: server.ipv4)
            try #require(await leaving.waitFor("ok 3", timeout: Slowness.processStart), "session did not start: \(leaving.lines)")
            try #require(await staying.waitFor("ok 3", timeout: Slowness.processStart), "session did not start: \(staying.lines)")

            policy.setGroups(of: leaver, ["others"])
            try await hv.mustApply(policy)
            await t.expect(await leaving.waitFor("broken", timeout: .seconds(3)),
                           "the session of the port that left the group should stop: \(leaving.lines.suffix(5))")
            let stayed = staying.lines.count
            try await Task.sleep(for: .seconds(1))
            await t.expect(!staying.stdout.contains("broken") && staying.lines.count >= stayed + 3,
                           "the session of the remaining member should go on: \(staying.lines.suffix(5))")
            await t.expect([
                leaver.doesNotReach(server.ipv4, .tcp(80)),
                stayer.reaches(server.ipv4, .tcp(80)),
            ])

            // The server leaving the group whose rule admitted the session stops it too.
            policy.group("closed", [])
            policy.setGroups(of: server, ["closed"])
            try await hv.mustApply(policy)
            await t.expect(await staying.waitFor("broken", timeout: .seconds(3)),
                           "the session should stop when the server leaves the group that admitted it: \(staying.lines.suffix(5))")
            await t.expect([stayer.doesNotReach(server.ipv4, .tcp(80))])
        }
    }
}
