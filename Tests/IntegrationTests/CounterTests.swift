import Foundation
import Testing

/// `sgctl stats` against a real kernel with real packets: each group rule
/// counts what it accepted, each port its own default drops, and the values
/// agree with what `nft` lists; counters ticking is no change for `plan`.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct CounterTests {
    /// `sgctl stats --output json` in the host.
    static func stats(_ hv: Host) async throws -> [[String: Any]] {
        let json = try await hv.mustExec([Paths.sgctl, "stats", "--output", "json"])
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]], "stats json: \(json)")
    }

    @Test func rulesCountWhatTheyAcceptAndEachPortCountsItsOwnDrops() async throws {
        try await Topology.with("stats") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            let other = try await hv.vm("other", 3)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("server", [
                Rule.ingress(["protocol": "tcp", "ports": "80", "description": "http"]),
                Rule.ingress(["protocol": "tcp", "ports": "443"]),
            ])
            policy.port(client, groups: ["client"])
            policy.port(server, groups: ["server"])
            policy.port(other, groups: ["server"])
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "22,80")

            // Three connections to port 80 (each one's first packet meets the
            // rule; the rest pass as established), and refused ones to 22.
            for _ in 0..<3 { await t.expect([client.reaches(server.ipv4, .tcp(80))]) }
            let before = try await Self.stats(hv)
            await t.expect([client.doesNotReach(server.ipv4, .tcp(22)), client.doesNotReach(server.ipv4, .tcp(22))])
            let rows = try await Self.stats(hv)
            func row(_ rows: [[String: Any]], _ match: ([String: Any]) -> Bool) -> [String: Any]? { rows.first(where: match) }
            func packets(_ row: [String: Any]?) -> Int { (row?["packets"] as? Int) ?? -1 }

            let http = row(rows) { $0["kind"] as? String == "rule" && $0["groups"] as? [String] == ["server"] && $0["rule"] as? Int == 0 }
            await t.expect(packets(http) >= 3 && http?["description"] as? String == "http" && http?["direction"] as? String == "ingress",
                           "server rule 0 (http) should have counted the 3 connections: \(http ?? [:])")
            let https = row(rows) { $0["kind"] as? String == "rule" && $0["groups"] as? [String] == ["server"] && $0["rule"] as? Int == 1 }
            await t.expect(packets(https) == 0, "nothing was sent to 443: \(https ?? [:])")
            func drops(_ rows: [[String: Any]], _ port: String) -> [String: Any]? {
                row(rows) { $0["kind"] as? String == "default-drop" && $0["port"] as? String == port && $0["direction"] as? String == "ingress" }
            }
            let serverDrops = drops(rows, "srv")
            let serverRefused = packets(serverDrops) - packets(drops(before, "srv"))
            await t.expect(serverRefused >= 2 && serverDrops?["device"] as? String == server.device,
                           "srv's ingress drops should count the refused SYNs: \(drops(before, "srv") ?? [:]) then \(serverDrops ?? [:])")
            // The other port of the same group shares the group's rules, not
            // srv's drops (both drop the VMs' multicast neighbour chatter alike).
            let otherMeanwhile = packets(drops(rows, "other")) - packets(drops(before, "other"))
            await t.expect(otherMeanwhile < serverRefused, "other's drops should be its own: \(otherMeanwhile) while srv refused \(serverRefused)")

            // nft, an independent reader, lists the same drop counter. The
            // VMs' neighbour chatter may still tick it (seen in the VM: nft 8,
            // stats 7), so nft's reading must lie between stats' reading
            // before it and one after it.
            let chain = try await hv.mustExec(["nft", "list", "chain", "inet", "secgroups", "port/\(server.device)/ingress"])
            let afterDrops = packets(drops(try await Self.stats(hv), "srv"))
            let listed = chain.split(separator: "\n").first { $0.contains("counter packets") && $0.contains("drop") }
            let listedPackets = listed.flatMap { line in
                line.split(separator: " ").drop { $0 != "packets" }.dropFirst().first.flatMap { Int($0) }
            }
            await t.expect(listedPackets.map { packets(serverDrops) <= $0 && $0 <= afterDrops } == true,
                           "nft lists \(listed ?? "no counter") for srv's drop, stats said \(packets(serverDrops)) before and \(afterDrops) after")

            // Filters and the table for people.
            let byPort = try await hv.mustExec([Paths.sgctl, "stats", "--port", "srv"])
            let byPortLines = byPort.split(separator: "\n").map(String.init)
            await t.expect(byPortLines.first?.hasPrefix("direction  ") == true && byPortLines.count == 3
                               && byPortLines.dropFirst().allSatisfy { $0.contains("srv (\(server.device))") && $0.hasSuffix("dropped: no rule of its groups allows it") },
                           "--port srv should show srv's two drop counters: \(byPort)")
            let byGroup = try await hv.mustExec([Paths.sgctl, "stats", "--group", "server"])
            await t.expect(byGroup.contains("accepted: http") && !byGroup.contains("srv ("), "--group server should show its rules: \(byGroup)")
            print("CounterTests: sgctl stats --group server --port srv:\n" + (try await hv.mustExec([Paths.sgctl, "stats", "--group", "server", "--port", "srv"])))

            // Counters moving is no difference between kernel and policy.
            let plan = try await hv.plan(policy)
            await t.expect(plan.status == 0, "plan after traffic should find nothing to change: \(plan)")
        }
    }
}
