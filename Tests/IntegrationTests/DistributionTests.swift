import Foundation
import Testing

/// Many hosts through etcd: `sgctl apply --etcd` publishes each host's
/// compiled state under its own key, each host's `sgd` watches its key.
/// etcd runs on a control node on the fabric, started by the test.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(4)))
struct DistributionTests {
    @Test func threeHostsFollowEtcdThroughChangesOutagesAndDrift() async throws {
        try await Topology.with("etcd") { t in
            let control = try await t.host("ctl", vtep: "192.0.2.100")
            var etcd = try await EtcdServer.start(on: control, address: "192.0.2.100")
            let hv1 = try await t.host("hv1", vtep: "192.0.2.1")
            let hv2 = try await t.host("hv2", vtep: "192.0.2.2")
            let hv3 = try await t.host("hv3", vtep: "192.0.2.3")
            let a = try await hv1.vm("a", 1)
            let b = try await hv2.vm("b", 2)
            let c = try await hv3.vm("c", 3)
            // web admits clients on 80; db admits web on 5432. hv2 holds the
            // set of "clients", hv3 the set of "web".
            var policy = PolicyDoc.oneNetwork(hv1, hv2, hv3)
            policy.group("clients", [Rule.egress()])
            policy.group("web", [Rule.ingress(["protocol": "tcp", "ports": "80", "remote": ["group": "clients"]]), Rule.egress()])
            policy.group("db", [Rule.ingress(["protocol": "tcp", "ports": "5432", "remote": ["group": "web"]])])
            policy.port(a, groups: ["clients"])
            policy.port(b, groups: ["web"])
            policy.port(c, groups: ["db"])

            func publish(_ policy: PolicyDoc) async throws -> CommandOutput {
                try await control.publish(policy, etcd: etcd.url)
            }
            var out = try await publish(policy)
            try #require(out.succeeded, "publish failed: \(out)")
            await t.expect(out.stdout.contains("revision 1: 3 hosts written"), "first publish: \(out.stdout)")

            var daemons: [String: Daemon] = [:]
            for hv in [hv1, hv2, hv3] { daemons[hv.name] = try await Daemon.start(on: hv, etcd: etcd.url) }
            for (name, sgd) in daemons {
                try #require(try await sgd.waitUntil { Self.revision(of: $0) == 1 && $0["inSync"] as? Bool == true },
                             "sgd on \(name) did not apply revision 1: \(sgd.log)")
            }
            _ = try await b.serve(tcp: "80")
            _ = try await c.serve(tcp: "5432")
            await t.expect([
                a.reaches(b.ipv4, .tcp(80)), b.reaches(c.ipv4, .tcp(5432)), a.doesNotReach(c.ipv4, .tcp(5432)),
            ])

            // a joins web: a's host changes (its profile) and hv3 (the set of
            // web); hv2 depends on clients only and must see nothing.
            let monitors = [hv1.name: try await hv1.nftMonitor(), hv2.name: try await hv2.nftMonitor(), hv3.name: try await hv3.nftMonitor()]
            policy.setGroups(of: a, ["clients", "web"])
            out = try await publish(policy)
            await t.expect(out.stdout.contains("revision 2: 2 hosts written") && out.stdout.contains("1 unchanged")
                           && out.stdout.contains("hv1, hv3"), "only hv1 and hv3 should be written: \(out)")
            for name in ["hv1", "hv3"] {
                try #require(try await daemons[name]!.waitUntil { Self.revision(of: $0) == 2 && $0["inSync"] as? Bool == true },
                             "sgd on \(name) did not apply revision 2: \(daemons[name]!.log)")
            }
            // Each host reports what it holds in force, read back with etcdctl.
            for (name, revision) in [("hv1", 2), ("hv2", 1), ("hv3", 2)] {
                var report = ""
                for _ in 0..<(20 * Slowness.factor) where !report.contains("\"revision\":\(revision)") {
                    report = try await control.mustExec(["etcdctl", "--endpoints", etcd.url, "get", "/sgctl/v1/status/\(name)", "--print-value-only"])
                    if !report.contains("\"revision\":\(revision)") { try await Task.sleep(for: .milliseconds(100)) }
                }
                await t.expect(report.contains("\"revision\":\(revision)") && report.contains("\"inSync\":true"),
                               "\(name) should report revision \(revision) in sync in etcd: \(report)")
            }
            // The operator's view of every host at once: all converged.
            let fleet = try await control.exec([Paths.sgctl, "status", "--etcd", etcd.url])
            await t.expect(fleet.succeeded && fleet.stdout.contains("published  revision 2") && fleet.stdout.contains("3 hosts: 3 converged"),
                           "sgctl status --etcd should show every host converged: \(fleet)")
            print("DistributionTests: sgctl status --etcd:\n\(fleet.stdout)")
            try await Task.sleep(for: .milliseconds(500 * Slowness.factor))
            await t.expect(monitors["hv2"]!.stdout.isEmpty, "hv2 doesn't depend on a's groups, but changed: \(monitors["hv2"]!.stdout)")
            await t.expect(monitors["hv3"]!.stdout.contains("add element inet secgroups") && monitors["hv3"]!.stdout.contains("10.0.0.1"),
                           "hv3 should add a's address to the web set: \(monitors["hv3"]!.stdout)")
            await t.expect(!monitors["hv3"]!.stdout.contains("chain"), "hv3 needs set elements only: \(monitors["hv3"]!.stdout)")
            await t.expect(!monitors["hv1"]!.stdout.isEmpty, "hv1 (a's host) should change")
            // One atomic batch per dependent host: one commit each.
            for name in ["hv1", "hv3"] {
                let commits = Self.commits(in: monitors[name]!.stdout)
                await t.expect(commits == 1, "\(name) should take revision 2 in one transaction, took \(commits): \(monitors[name]!.stdout)")
            }
            // On a's host only what a's new group brings: web's chains and
            // the set of clients it admits, the profile of clients+web in
            // place of clients', and a's own chains jumping to it. Nothing
            // else of the host (its port security, other ports) moves.
            let aboutTheChange = ["remote/clients/", "profile/clients/", "sg/web/", "port/tap-a/"]
            let unrelated = Self.changedObjects(in: monitors["hv1"]!.stdout).filter { line in !aboutTheChange.contains { line.contains($0) } }
            await t.expect(unrelated.isEmpty, "hv1 changed objects a's join doesn't touch: \(unrelated)")
            print("DistributionTests: a joins web; hv1 saw:\n\(monitors["hv1"]!.stdout)hv3 saw:\n\(monitors["hv3"]!.stdout)")
            await t.expect(try await daemons["hv2"]!.status().map(Self.revision(of:)) == 1, "hv2's key was not rewritten")
            await t.expect([a.reaches(c.ipv4, .tcp(5432)), a.reaches(b.ipv4, .tcp(80))])

            // etcd goes down: every host keeps enforcing, and says so.
            await etcd.kill()
            for (name, sgd) in daemons {
                await t.expect(try await sgd.waitUntil { $0["sourceProblem"] is String }, "sgd on \(name) should report etcd down: \(sgd.log)")
            }
            await t.expect([a.reaches(c.ipv4, .tcp(5432)), b.reaches(c.ipv4, .tcp(5432)), c.doesNotReach(a.ipv4, .tcp(22))])
            policy.setGroups(of: a, ["clients"])
            out = try await publish(policy)
            await t.expect(out.status == 3 && out.stderr.contains("cannot reach"), "publishing without etcd should fail clearly: \(out)")

            // etcd is back; a change published before the daemons reconnect arrives.
            etcd = try await etcd.restarted()
            out = try await publish(policy)
            await t.expect(out.succeeded && out.stdout.contains("revision 3"), "publish after the restart: \(out)")
            for name in ["hv1", "hv3"] {
                await t.expect(try await daemons[name]!.waitUntil(timeout: .seconds(30)) { Self.revision(of: $0) == 3 && $0["sourceProblem"] == nil && $0["inSync"] as? Bool == true },
                               "sgd on \(name) did not catch up after etcd came back: \(daemons[name]!.log)")
            }
            await t.expect([a.doesNotReach(c.ipv4, .tcp(5432)), b.reaches(c.ipv4, .tcp(5432))])

            // A table flushed by hand is restored within the drift period.
            // (Counters are left out: the restored rules count from zero.)
            let before = DaemonTests.canonical(try await hv2.snapshot().ruleset)
            try await hv2.mustExec(["nft", "flush", "table", "inet", "secgroups"])
            var restored = false
            for _ in 0..<(50 * Slowness.factor) where !restored {
                try await Task.sleep(for: .milliseconds(100))
                restored = DaemonTests.canonical(try await hv2.snapshot().ruleset) == before
            }
            await t.expect(restored, "sgd on hv2 did not restore its flushed table: \(daemons["hv2"]!.log)")
            await t.expect(daemons["hv2"]!.log.contains("repaired drift"), "the log should say what was repaired: \(daemons["hv2"]!.log)")
            await t.expect([a.reaches(b.ipv4, .tcp(80))])

            // A host whose sgd is down is named as behind once a change for it is published.
            await daemons["hv2"]!.child.stop()
            policy.setGroups(of: b, ["web", "clients"])
            out = try await publish(policy)
            await t.expect(out.succeeded && out.stdout.contains("revision 4"), "publish with hv2's sgd down: \(out)")
            let lagging = try await control.exec([Paths.sgctl, "status", "--etcd", etcd.url, "--output", "json"])
            let rows = ((try? JSONSerialization.jsonObject(with: Data(lagging.stdout.utf8))) as? [String: Any])?["hosts"] as? [[String: Any]] ?? []
            let hv2Row = rows.first { $0["host"] as? String == "hv2" }
            await t.expect(lagging.status == 1 && hv2Row?["state"] as? String == "behind" && (hv2Row?["published"] as? NSNumber)?.intValue == 4,
                           "sgctl status --etcd should exit 1 and name hv2 behind revision 4: \(lagging)")
            let laggingText = try await control.exec([Paths.sgctl, "status", "--etcd", etcd.url])
            let hv2Line = laggingText.stdout.split(separator: "\n").first { $0.hasPrefix("hv2 ") }
            await t.expect(laggingText.status == 1 && hv2Line?.hasSuffix("BEHIND") == true, "the text should say hv2 is BEHIND: \(laggingText)")
            print("DistributionTests: sgctl status --etcd with hv2's sgd down:\n\(laggingText.stdout)")
        }
    }

    /// The transactions `nft monitor` saw commit (it ends each with
    /// "# new generation N by process ...").
    static func commits(in monitorOutput: String) -> Int {
        monitorOutput.split(separator: "\n").filter { $0.hasPrefix("# new generation") }.count
    }

    /// The object lines of `nft monitor` output (adds and deletes).
    static func changedObjects(in monitorOutput: String) -> [String] {
        monitorOutput.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    /// The policy revision a daemon's /status reports.
    static func revision(of status: [String: Any]) -> Int? {
        ((status["revision"] as? [String: Any])?["number"] as? NSNumber)?.intValue
    }
}
