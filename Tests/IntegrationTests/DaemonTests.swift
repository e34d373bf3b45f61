import Foundation
import Testing

/// `sgd`, the per-host enforcer, with a policy file as its source: it
/// follows the file, attaches VMs' devices as they appear, repairs what is
/// changed behind its back, keeps the last good state through a bad policy
/// or a deleted file, and restarts (also after `kill -9`) without touching
/// established connections or leaving a half-applied ruleset.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(3)))
struct DaemonTests {
    static func webPolicy(_ hv: Host, _ client: VM, _ server: VM, serverPorts: [String] = ["80"]) -> PolicyDoc {
        var policy = PolicyDoc.oneNetwork(hv)
        policy.group("client", [Rule.egress()])
        policy.group("server", serverPorts.map { Rule.ingress(["protocol": "tcp", "ports": $0]) })
        policy.port(client, groups: ["client"])
        policy.port(server, groups: ["server"])
        return policy
    }

    /// `ip link show DEVICE` in the host: is the device on one of our bridges?
    static func isAttached(_ device: String, on host: Host) async throws -> Bool {
        let out = try await host.exec(["ip", "-o", "link", "show", "dev", device])
        return out.succeeded && out.stdout.contains(" master sgbr-")
    }

    @Test func followsThePolicyFileAttachesDevicesAndRepairsDrift() async throws {
        try await Topology.with("sgd-file") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            // The server's VM boots after its port is declared.
            let server = try await hv.vm("srv", 2, plugged: false)
            var policy = Self.webPolicy(hv, client, server)
            let sgd = try await Daemon.start(on: hv, policy: policy)
            try #require(try await sgd.waitForNewRevision(after: nil), "sgd did not apply the policy: \(sgd.log)")
            var status = try #require(try await sgd.status())
            await t.expect(status["pending"] as? [String] == ["port device tap-srv does not exist yet"], "pending: \(status)")
            await t.expect(try await Self.isAttached("tap-cli", on: hv), "tap-cli should be on its bridge")

            // The VM's device appears: sgd attaches it (its filtering was installed before).
            let plugged = ContinuousClock.now
            try await server.plugIn()
            var attached = false
            while !attached && ContinuousClock.now - plugged < .seconds(5 * Slowness.factor) {
                attached = try await Self.isAttached("tap-srv", on: hv)
                if !attached { try await Task.sleep(for: .milliseconds(20)) }
            }
            try #require(attached, "sgd did not attach tap-srv: \(sgd.log)")
            print("DaemonTests: tap-srv attached \(ContinuousClock.now - plugged) after it appeared")
            _ = try await server.serve(tcp: "22,80")
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(22))])

            // The file changes: the new revision is applied.
            var revision = try await sgd.revision()
            policy = Self.webPolicy(hv, client, server, serverPorts: ["22", "80"])
            try sgd.write(policy)
            try #require(try await sgd.waitForNewRevision(after: revision), "sgd did not apply the changed file: \(sgd.log)")
            await t.expect([client.reaches(server.ipv4, .tcp(22))])

            // A broken policy is rejected, named in status, and changes nothing.
            revision = try await sgd.revision()
            let before = try await hv.snapshot()
            try sgd.write(policy.json.replacingOccurrences(of: "52:54:00:00:00:02", with: "52:54:00:00:00:zz"))
            try #require(try await sgd.waitUntil { ($0["rejectedErrors"] as? [String])?.isEmpty == false }, "no rejection: \(sgd.log)")
            status = try #require(try await sgd.status())
            let errors = status["rejectedErrors"] as? [String] ?? []
            await t.expect(errors.contains { $0.hasPrefix("ports[1].mac:") }, "the error should name ports[1].mac: \(errors)")
            let kept = try await sgd.revision()
            await t.expect(kept == revision, "the last good revision \(revision ?? "nil") should stay in force, status says \(kept ?? "nothing")")
            await t.expect(try await hv.snapshot().unchanged(since: before), "a rejected policy changed the kernel")
            let health = try await sgd.get("/healthz")
            await t.expect(health.status == 200, "a rejected policy doesn't make the host unhealthy: \(health)")
            let statusText = try await sgd.statusText()
            await t.expect(statusText?.succeeded == true && statusText?.stdout.contains("ports[1].mac") == true,
                           "sgctl status should show the rejection: \(statusText.map { "\($0)" } ?? "no answer")")
            await t.expect([client.reaches(server.ipv4, .tcp(22))])
            try sgd.write(policy)

            // Drift: the inet table deleted by hand comes back within the drift period.
            try await hv.mustExec(["nft", "delete", "table", "inet", "secgroups"])
            var restored = false
            for _ in 0..<(50 * Slowness.factor) where !restored {
                try await Task.sleep(for: .milliseconds(100))
                restored = try await hv.exec(["nft", "list", "table", "inet", "secgroups"]).succeeded
            }
            await t.expect(restored, "sgd did not restore the deleted table: \(sgd.log)")
            await t.expect(sgd.log.contains("repaired drift"), "the log should say what was repaired: \(sgd.log)")
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(23))])

            // A port taken off its bridge is put back at once (a link event).
            try await hv.mustExec(["ip", "link", "set", "tap-srv", "nomaster"])
            var back = false
            for _ in 0..<(30 * Slowness.factor) where !back {
                try await Task.sleep(for: .milliseconds(100))
                back = try await Self.isAttached("tap-srv", on: hv)
            }
            await t.expect(back, "tap-srv was not put back on its bridge: \(sgd.log)")

            // Metrics, read by an independent client.
            let metrics = try await sgd.get("/metrics")
            await t.expect(metrics.status == 200, "GET /metrics: \(metrics)")
            for sample in ["sgd_apply_duration_seconds_count", "sgd_drift_repairs_total", "sgd_policy_revision", "sgd_pending_ports", "sgd_in_sync"] {
                await t.expect(metrics.body.contains("\n\(sample)"), "/metrics lacks \(sample): \(metrics.body)")
            }
            await t.expect((try await sgd.metric("sgd_drift_repairs_total") ?? 0) >= 1, "drift repairs should be counted")
            await t.expect((try await sgd.metric("sgd_pending_ports") ?? -1) == 0, "no port is pending any more")
            await t.expect(metrics.body.contains("sgd_operations_total{kind=\"attach_port\"}"), "operations by kind: \(metrics.body)")
            // The rules' counters, read from the kernel at the scrape: since the
            // table came back, the client reached port 80 (server rule 1) and
            // was refused port 23 (the server port's default drop).
            let accepted = try await sgd.metric(#"sgd_rule_packets_total{group="server",rule="1",direction="ingress",description=""}"#)
            await t.expect((accepted ?? 0) >= 1, "server rule 1 should have counted the port 80 connection: \(metrics.body)")
            let dropped = try await sgd.metric(#"sgd_port_dropped_packets_total{port="srv",device="tap-srv",direction="ingress"}"#)
            await t.expect((dropped ?? 0) >= 1, "the server port's drops should be counted: \(metrics.body)")

            // The file goes away: the last state stays enforced.
            try FileManager.default.removeItem(at: sgd.policyFile!)
            try #require(try await sgd.waitUntil { $0["sourceProblem"] is String }, "sgd should report the missing file: \(sgd.log)")
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(23))])
            await t.expect(try await hv.exec(["nft", "list", "table", "inet", "secgroups"]).succeeded, "the ruleset must stay")

            // The server's device disappears (its VM destroyed): its tracked
            // connections are deleted; its filtering stays, as the port is still declared.
            func trackedWithServer() async throws -> [String] {
                try await hv.conntrackEntries().filter { $0.contains("src=\(server.ipv4) ") || $0.contains("dst=\(server.ipv4) ") }
            }
            let tracked = try await trackedWithServer()
            await t.expect(!tracked.isEmpty, "the checks above should have left tracked connections of the server")
            try await hv.mustExec(["ip", "link", "del", "tap-srv"])
            var forgotten = false
            for _ in 0..<(50 * Slowness.factor) where !forgotten {
                try await Task.sleep(for: .milliseconds(100))
                forgotten = try await trackedWithServer().isEmpty
            }
            let left = try await trackedWithServer()
            await t.expect(forgotten, "the gone device's connections should be deleted: \(left), log: \(sgd.log)")
            await t.expect(sgd.log.contains("tap-srv is gone: \(tracked.count) tracked connections of \(server.ipv4)"), "the log should say so: \(sgd.log)")
            await t.expect(try await hv.nftRuleset().contains("\"tap-srv\""), "the port's filtering stays")
        }
    }

    /// Between drift checks sgd plans against the tables it last wrote for
    /// as long as nftables' generation says nothing else committed. A rule
    /// slipped in by hand is a commit: the next revision finds it and takes
    /// it out, although that revision doesn't touch the chain and the
    /// drift check is far away.
    @Test func aRuleSlippedInByHandIsTakenOutByTheNextRevision() async throws {
        try await Topology.with("sgd-tamper") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            let sgd = try await Daemon.start(on: hv, policy: Self.webPolicy(hv, client, server), driftInterval: 600)
            try #require(try await sgd.waitForNewRevision(after: nil), "sgd did not apply the policy: \(sgd.log)")
            _ = try await server.serve(tcp: "22,80,443")
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(22))])

            let chain = "port/\(server.device)/ingress"
            try await hv.mustExec(["nft", "insert", "rule", "inet", "secgroups", chain, "tcp", "dport", "22", "accept", "comment", "\"by hand\""])
            // Not a policy: the harness's ledger can't trace it, so no reachability check here.
            await t.expect(try await hv.mustExec(["nft", "list", "chain", "inet", "secgroups", chain]).contains("by hand"), "the rule was not inserted")

            // The next revision opens 443 (the server group's chain); the port's chain isn't part of it.
            let revision = try await sgd.revision()
            try sgd.write(Self.webPolicy(hv, client, server, serverPorts: ["80", "443"]))
            try #require(try await sgd.waitForNewRevision(after: revision), "sgd did not apply the changed file: \(sgd.log)")
            let listed = try await hv.mustExec(["nft", "list", "chain", "inet", "secgroups", chain])
            await t.expect(!listed.contains("by hand"), "the rule slipped in by hand should be gone after the next apply: \(listed)\n\(sgd.log)")
            await t.expect([client.reaches(server.ipv4, .tcp(443)), client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(22))])
            await t.expect(!sgd.log.contains("drift check"), "the drift check (600 s) should not have run: \(sgd.log)")
        }
    }

    @Test func establishedSessionsSurviveRestartsAndKillMinus9() async throws {
        try await Topology.with("sgd-restart") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("cli", 1)
            let server = try await hv.vm("srv", 2)
            var sgd = try await Daemon.start(on: hv, policy: Self.webPolicy(hv, client, server), driftInterval: 30)
            try #require(try await sgd.waitForNewRevision(after: nil), "sgd did not apply the policy: \(sgd.log)")
            _ = try await server.serve(tcp: "80")
            let session = try await client.hold(tcp: 80, to: server.ipv4)
            try #require(await session.waitFor("ok 3", timeout: Slowness.processStart), "session did not start: \(session.lines)")
            let monitor = try await hv.nftMonitor()

            // A clean stop, then a start; then kill -9 and a start.
            await sgd.child.stop()
            sgd = try sgd.restarted()
            try #require(try await sgd.waitForNewRevision(after: nil), "sgd did not start again: \(sgd.log)")
            sgd.child.kill()
            _ = await sgd.child.exitStatus()
            sgd = try sgd.restarted()
            try #require(try await sgd.waitForNewRevision(after: nil), "sgd did not start after kill -9: \(sgd.log)")

            let count = session.lines.count
            await t.expect(await session.waitFor("ok \(count + 5)", timeout: .seconds(5)),
                           "the session should go on across restarts: \(session.lines.suffix(5)) \(session.stderr)")
            await t.expect(!session.lines.contains { $0.contains("fail") || $0.contains("reset") }, "the session broke: \(session.lines)")
            await t.expect(monitor.stdout.isEmpty, "restarts must not change the ruleset, but nft monitor saw: \(monitor.stdout)")
            await t.expect(!sgd.log.contains("applied"), "a restart onto the same state applies nothing: \(sgd.log)")
        }
    }

    /// `nft list ruleset` without the order of things, which depends on
    /// the history of changes (sets and chains are listed in creation order,
    /// elements in the order of the set's backend): each set's elements
    /// sorted, one per line, and then all lines sorted. A ruleset that mixed
    /// two states would still differ from both.
    static func canonical(_ ruleset: String) -> String {
        let elements = #/elements = \{([^}]*)\}/#
        let flat = ruleset.replacing(elements) { match in
            let items = match.output.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            return "elements = {\n" + items.sorted().joined(separator: "\n") + "\n}"
        }
        return flat.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.sorted().joined(separator: "\n")
    }

    /// Lines only in `a`, and lines only in `b`: what tells two rulesets apart.
    static func lineDifference(_ a: String, _ b: String) -> String {
        let linesA = Set(a.split(separator: "\n").map(String.init))
        let linesB = Set(b.split(separator: "\n").map(String.init))
        let onlyA: [String] = Array(linesA.subtracting(linesB).sorted().prefix(20))
        let onlyB: [String] = Array(linesB.subtracting(linesA).sorted().prefix(20))
        return "only in the first: \(onlyA); only in the second: \(onlyB)"
    }

    /// kill -9 at random moments while sgd moves a large host from policy A
    /// to policy B: each time, the ruleset is exactly A's or exactly B's.
    @Test func killedMidApplyLeavesTheOldOrTheNewRuleset() async throws {
        try await Topology.with("sgd-kill") { t in
            let hv = try await t.host("hv1")
            // 1,000 ports whose VMs don't exist: all filtering, in one batch.
            func policy(rulePorts: String, groups: (Int) -> [String]) -> PolicyDoc {
                var policy = PolicyDoc()
                policy.network("n1", vni: 100, subnets: ["10.0.0.0/16"])
                policy.host(hv)
                policy.group("a", [Rule.ingress(["protocol": "tcp", "ports": rulePorts]), Rule.egress()])
                policy.group("b", [Rule.ingress(["protocol": "udp", "ports": rulePorts])])
                for i in 0..<1000 {
                    policy.ports.append([
                        "name": "p\(i)", "host": "hv1", "device": "t\(i)", "network": "n1",
                        "mac": String(format: "52:54:00:00:%02x:%02x", i / 256, i % 256),
                        "ips": ["10.0.\(i / 250).\(i % 250 + 1)"], "securityGroups": groups(i),
                    ])
                }
                return policy
            }
            let a = policy(rulePorts: "22") { _ in ["a"] }
            let b = policy(rulePorts: "8000-8080") { i in i % 2 == 0 ? ["a", "b"] : ["b"] }
            try await hv.mustApply(b)
            let rulesetB = Self.canonical(try await hv.snapshot().ruleset)
            try await hv.mustApply(a)
            let rulesetA = Self.canonical(try await hv.snapshot().ruleset)
            try #require(rulesetA != rulesetB)

            // How long sgd takes from its start to the end of the batch here.
            var sgd = try await Daemon.start(on: hv, policy: b, driftInterval: 30)
            let started = ContinuousClock.now
            try #require(await sgd.child.waitForStderr("applied (policy", timeout: .seconds(30)), "sgd did not apply B: \(sgd.log)")
            let applyTime = ContinuousClock.now - started
            await sgd.child.stop()

            // Kills spread over that time (the first right at the start).
            var outcomes: [String: Int] = ["A": 0, "B": 0]
            for attempt in 0..<8 {
                try await hv.mustApply(a)
                sgd = try sgd.restarted()
                let delay = applyTime * attempt / 6
                if attempt < 7 {
                    try await Task.sleep(for: delay)
                } else {
                    // The last kill comes right after the batch, for sure.
                    #expect(await sgd.child.waitForStderr("applied (policy", timeout: .seconds(30)))
                }
                sgd.child.kill()
                _ = await sgd.child.exitStatus()
                let ruleset = Self.canonical(try await hv.snapshot().ruleset)
                let outcome = ruleset == rulesetA ? "A" : ruleset == rulesetB ? "B" : nil
                if outcome == nil {
                    await t.expect(false, "after kill -9 at \(delay) the ruleset is neither A's nor B's: \(Self.lineDifference(ruleset, rulesetB))")
                }
                if let outcome { outcomes[outcome, default: 0] += 1 }
            }
            print("DaemonTests: sgd applies B in \(applyTime); kill -9 mid-apply: \(outcomes["A"]!) times the old ruleset, \(outcomes["B"]!) times the new, never a mix")
            await t.expect(outcomes["A"]! > 0 && outcomes["B"]! > 0,
                           "the kills should land both before and after the batch (A \(outcomes["A"]!), B \(outcomes["B"]!)); adjust the delays")
        }
    }
}
