import Foundation
import Testing

/// How `sgctl apply` and `sgctl plan` treat a host's kernel: all or
/// nothing, only what the project owns, nothing when nothing changed
/// (policy-format.md, semantics 7; README, exit codes).
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct ApplyTests {
    /// hv1 with VMs a (client) and b (server on tcp 80) on n1.
    static func clientAndServer(_ t: Topology) async throws -> (Host, VM, VM, PolicyDoc) {
        let hv = try await t.host("hv1")
        let client = try await hv.vm("a", 1)
        let server = try await hv.vm("b", 2)
        var policy = PolicyDoc.oneNetwork(hv)
        policy.group("client", [Rule.egress()])
        policy.group("web", [Rule.ingress(["protocol": "tcp", "ports": "80"])])
        policy.port(client, groups: ["client"])
        policy.port(server, groups: ["web"])
        return (hv, client, server, policy)
    }

    static let foreignTables = """
        table inet foreign {
            set blocked { type ipv4_addr; elements = { 198.51.100.99 } }
            chain keep_forward { type filter hook forward priority 10; policy accept; ip daddr @blocked drop; }
        }
        table bridge foreign {
            chain keep_prerouting { type filter hook prerouting priority -100; policy accept; ether type 0x88b5 drop; }
        }
        """

    /// "Unchanged" is `Host.Snapshot.unchanged(since:)`: `nft list ruleset`
    /// byte for byte except counter values, which the VMs' own IPv6 chatter
    /// (MLD reports, router solicitations) moves on while the test runs;
    /// a counter may grow, never go back (that would mean a replaced rule).
    @Test func invalidPolicyOrRefusedApplyLeavesRulesetAndLinksUnchanged() async throws {
        try await Topology.with("noop") { t in
            let (hv, client, server, policy) = try await Self.clientAndServer(t)
            try await hv.mustExec(["nft", "-f", "-"], stdin: Self.foreignTables)
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "80,443")
            let before = try await hv.snapshot()

            var changed = policy  // a change that would need kernel operations
            changed.setRules(of: "web", [Rule.ingress(["protocol": "tcp", "ports": "443"])])
            var misspelled = changed
            misspelled.setGroups(of: server, ["wbe"])

            let attempts: [(what: String, exit: Int32, run: () async throws -> CommandOutput)] = [
                ("a policy naming an unknown group", 1, { try await hv.apply(misspelled) }),
                ("a file that is not JSON", 1, { try await hv.sgctl(["apply"], text: "{\"version\": 1, \"networks\": [") }),
                ("a host that is not in the policy", 1, { try await hv.sgctl(["apply"], text: changed.json, hostName: "hv9") }),
            ]
            for attempt in attempts {
                let out = try await attempt.run()
                await t.expect(out.status == attempt.exit, "apply of \(attempt.what) should exit \(attempt.exit): \(out)")
                let after = try await hv.snapshot()
                await t.expect(after.unchanged(since: before), "apply of \(attempt.what) changed the kernel state:\n\(Self.difference(before, after))")
            }

            // A kernel that can't carry the policy: bridged traffic would bypass
            // the inet hooks. Apply must refuse (exit 3) and change nothing.
            try await hv.mustExec(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"])
            let refused = try await hv.apply(changed)
            try await hv.mustExec(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"])
            await t.expect(refused.status == 3, "apply without bridge-nf-call-iptables should exit 3: \(refused)")
            let afterRefusal = try await hv.snapshot()
            await t.expect(afterRefusal.unchanged(since: before), "the refused apply changed the kernel state:\n\(Self.difference(before, afterRefusal))")

            // The same for a VLAN network on a kernel without bridge VLAN filtering (this machine's).
            if !(await KernelFeatures.vlanFiltering.value) {
                var vlan = changed
                vlan.networks = []
                vlan.network("n1", vlan: 100)
                let out = try await hv.apply(vlan)
                await t.expect(out.status == 3, "a VLAN policy on a kernel without VLAN filtering should exit 3: \(out)")
                let after = try await hv.snapshot()
                await t.expect(after.unchanged(since: before), "the refused VLAN apply changed the kernel state:\n\(Self.difference(before, after))")
            }

            // The first policy is still what filters.
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(443))])
        }
    }

    @Test func applyWhoseNftablesBatchTheKernelRejectsChangesNothing() async throws {
        try await Topology.with("reject") { t in
            let (hv, client, server, policy) = try await Self.clientAndServer(t)
            try await hv.mustExec(["nft", "-f", "-"], stdin: Self.foreignTables)
            // A table of the project's name owned by another process (nft -i, flags owner):
            // the kernel refuses every change to it (EPERM) while that process lives.
            let owner = try t.start(["ip", "netns", "exec", hv.namespace, "nft", "-i"],
                                    input: "add table inet secgroups { flags owner; }\n", keepInputOpen: true)
            func ownedTableExists() async throws -> Bool { try await hv.mustExec(["nft", "list", "tables"]).contains("inet secgroups") }
            for _ in 0..<50 where !(try await ownedTableExists()) { try await Task.sleep(for: .milliseconds(100)) }
            try #require(try await ownedTableExists(), "could not create the owned table: \(owner.stdout)\(owner.stderr)")
            let before = try await hv.snapshot()

            let rejected = try await hv.apply(policy)
            await t.expect(rejected.status == 3, "apply into a table the kernel won't let it change should exit 3: \(rejected)")
            let after = try await hv.snapshot()
            await t.expect(after.unchanged(since: before), "the rejected apply changed the kernel state:\n\(Self.difference(before, after))")

            // Once the owner is gone (and its table with it), the same policy applies.
            owner.closeInput()
            _ = await owner.exitStatus()
            try await hv.mustApply(policy)
            _ = try await server.serve(tcp: "22,80")
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(22))])
        }
    }

    @Test func foreignTablesAndBridgesSurviveApplyUntouched() async throws {
        try await Topology.with("foreign") { t in
            let (hv, client, server, policy) = try await Self.clientAndServer(t)
            try await hv.mustExec(["nft", "-f", "-"], stdin: Self.foreignTables)
            // Someone else's bridge with two namespaces on it, and a device nobody declared.
            let f1 = try await t.addNamespace("f1")
            let f2 = try await t.addNamespace("f2")
            try await hv.mustExec(["ip", "link", "add", "br-foreign", "type", "bridge"])
            for (ns, port, address) in [(f1, "fport1", "192.168.77.1/24"), (f2, "fport2", "192.168.77.2/24")] {
                try await hv.mustExec(["ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
                try await hv.mustExec(["ip", "link", "set", port, "master", "br-foreign", "up"])
                try await Shell.must(["ip", "-n", ns, "addr", "add", address, "dev", "eth0"])
                try await Shell.must(["ip", "-n", ns, "link", "set", "eth0", "up"])
            }
            try await hv.mustExec(["ip", "link", "set", "br-foreign", "up"])
            try await hv.mustExec(["ip", "link", "add", "tap-foreign", "type", "veth", "peer", "name", "tap-foreign-p"])

            func foreignState() async throws -> String {
                var text = try await hv.mustExec(["nft", "-s", "list", "table", "inet", "foreign"])
                text += try await hv.mustExec(["nft", "-s", "list", "table", "bridge", "foreign"])
                let ports = try await hv.mustExec(["bridge", "link"]).split(separator: "\n").filter { $0.contains("master br-foreign") }
                text += ports.joined(separator: "\n").replacing(#/ state \w+ /#, with: " ") + "\n"  // forwarding state settles by itself
                text += try await hv.mustExec(["ip", "-o", "link", "show", "tap-foreign"])
                return text
            }
            func foreignBridgeForwards() async -> Bool {
                (try? await Shell.run(["ip", "netns", "exec", f1, "ping", "-n", "-c", "1", "-W", "2", "192.168.77.2"]))?.succeeded == true
            }
            let before = try await foreignState()
            await t.expect(await foreignBridgeForwards(), "the foreign bridge should forward before any apply")

            try await hv.mustApply(policy)
            var changed = policy
            changed.setRules(of: "web", [Rule.ingress(["protocol": "tcp", "ports": "443"])])
            try await hv.mustApply(changed)
            let afterApplies = try await foreignState()
            await t.expect(afterApplies == before, "apply changed foreign objects:\nbefore:\n\(before)\nafter:\n\(afterApplies)")
            await t.expect(await foreignBridgeForwards(), "the foreign bridge should still forward after apply")
            let ours = try await hv.nftRuleset()
            await t.expect(ours.contains("table inet secgroups") && ours.contains("table bridge secgroups"),
                           "apply should have created the project's tables: \(ours)")
            _ = try await server.serve(tcp: "443")
            await t.expect([client.reaches(server.ipv4, .tcp(443))])

            // A policy without ports on this host: the project's objects go, the foreign ones stay.
            var empty = PolicyDoc.oneNetwork(hv)
            empty.group("web", [])
            try await hv.mustApply(empty)
            let afterEmpty = try await foreignState()
            await t.expect(afterEmpty == before, "applying an empty host changed foreign objects:\n\(afterEmpty)")
            let tables = try await hv.mustExec(["nft", "list", "tables"])
            await t.expect(!tables.contains("secgroups"), "the project's tables should be gone on a host without ports: \(tables)")
            let bridges = try await hv.mustExec(["ip", "-o", "link", "show", "type", "bridge"])
            await t.expect(!bridges.contains("sgbr-") && bridges.contains("br-foreign"),
                           "the project's bridges should be gone, the foreign one kept: \(bridges)")
        }
    }

    @Test func secondApplyOfTheSamePolicySendsNoNftablesOrLinkChanges() async throws {
        try await Topology.with("idem") { t in
            // Every kind of object the compiler makes, so that reading each back is checked:
            // a tunnel with a flood entry to a host that isn't here, two networks, IPv6,
            // address pairs with and without a MAC, remote groups, ranges, ICMP types,
            // protocol numbers, a stateless group and a port without port security.
            let hv = try await t.host("hv1", vtep: "192.0.2.1")
            let web = try await hv.vm("web", 1)
            let db = try await hv.vm("db", 2)
            let cache = try await hv.vm("cache", 3, network: "n2")
            let router = try await hv.vm("router", 4, network: "n2")
            var policy = PolicyDoc.oneNetwork(hv, vni: 5001)
            policy.network("n2", vni: 5002, subnets: ["10.0.0.0/24", "fd00::/64"])
            policy.hosts.append(["name": "hv2", "uplink": "eth1", "vtep": "192.0.2.2"])
            policy.group("web", [
                Rule.ingress(["protocol": "tcp", "ports": ["80", "443", "8000-8099"], "remote": ["cidr": "0.0.0.0/0"]]),
                Rule.ingress(["protocol": "tcp", "ports": "443", "remote": ["cidr": "::/0"]]),
                Rule.ingress(["protocol": "icmp", "icmp": ["type": 3, "code": 4]]),
                Rule.ingress(["protocol": "icmpv6", "icmp": ["type": 128], "remote": ["group": "web"]]),
                Rule.ingress(["protocol": 112, "remote": ["group": "web"]]),
                Rule.egress(["protocol": "tcp", "ports": "5432", "remote": ["group": "db"]]),
                Rule.egress(["ethertype": "ipv6"]),
            ])
            policy.group("db", [Rule.ingress(["protocol": "tcp", "ports": "5432", "remote": ["group": "web"]])])
            policy.group("cache", stateful: false, [
                Rule.ingress(["protocol": "udp", "ports": "11211", "remote": ["cidr": "10.0.0.0/24"]]),
                Rule.egress(["protocol": "udp", "remote": ["cidr": "10.0.0.0/24"]]),
            ])
            policy.port(web, groups: ["web"], addressPairs: [["ip": "10.0.0.100/32"], ["ip": "10.0.0.101", "mac": "52:54:00:00:aa:01"], ["ip": "fd00::100/128"]])
            policy.port(db, groups: ["db"])
            policy.port(cache, groups: ["cache"])
            policy.port(router, portSecurity: false)
            policy.ports.append([
                "name": "remote-web", "host": "hv2", "device": "tap-rweb", "network": "n1",
                "mac": "52:54:00:00:00:09", "ips": ["10.0.0.9", "fd00::9"], "securityGroups": ["web"],
            ])
            let firstEvents = try await hv.nftMonitor()
            try await hv.mustApply(policy)
            try await Task.sleep(for: .milliseconds(300))
            await firstEvents.stop()
            await t.expect(firstEvents.stdout.contains("add table"),
                           "nft monitor should show the first apply's changes (else this check proves nothing): \(firstEvents.stdout)")

            let nftEvents = try await hv.nftMonitor()
            let linkEvents = try t.start(["ip", "netns", "exec", hv.namespace, "ip", "monitor", "link"])
            // Ports the first apply attached announce their carrier state
            // later (the kernel's linkwatch defers such events up to a
            // second, more in an emulated VM under load): only events after
            // the monitor has been quiet for 1.5 s belong to the second apply.
            var seen = linkEvents.stdout.utf8.count
            var quietSince = ContinuousClock.now
            let deadline = ContinuousClock.now + .seconds(10 * Slowness.factor)
            while ContinuousClock.now - quietSince < .milliseconds(1500) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                let now = linkEvents.stdout.utf8.count
                if now != seen { (seen, quietSince) = (now, ContinuousClock.now) }
            }
            let settled = linkEvents.stdout.utf8.count
            let second = try await hv.mustApply(policy)
            try await Task.sleep(for: .milliseconds(300))
            await nftEvents.stop()
            await linkEvents.stop()
            let changes = nftEvents.lines.filter { line in
                ["add ", "delete ", "replace ", "insert ", "flush ", "destroy ", "reset "].contains { line.hasPrefix($0) }
            }
            await t.expect(changes.isEmpty, "the second apply of the same policy changed nftables:\n\(changes.joined(separator: "\n"))\nsgctl said: \(second.stdout)")
            // Any link event is a change (sgctl probes kernel features in a
            // private namespace, so even its probe devices don't show here).
            let linkChanges = Self.linkEvents(String(decoding: linkEvents.stdout.utf8.dropFirst(settled), as: UTF8.self))
            await t.expect(linkChanges.isEmpty, "the second apply of the same policy changed links:\n\(linkChanges.joined(separator: "\n"))")
            let plan = try await hv.plan(policy)
            await t.expect(plan.status == 0, "plan after two applies should find nothing to change: \(plan)")
        }
    }

    @Test func planDetailedExitcodeIsZeroAfterApplyAndTwoAfterAPolicyOrKernelChange() async throws {
        try await Topology.with("plan") { t in
            let (hv, client, server, policy) = try await Self.clientAndServer(t)
            let beforeAnything = try await hv.plan(policy)
            await t.expect(beforeAnything.status == 2, "plan before the first apply should exit 2: \(beforeAnything)")
            try await hv.mustApply(policy)
            let settled = try await hv.plan(policy)
            await t.expect(settled.status == 0, "plan right after apply should exit 0: \(settled)")

            var changed = policy
            changed.setRules(of: "web", [Rule.ingress(["protocol": "tcp", "ports": ["80", "443"]])])
            let before = try await hv.snapshot()
            let pending = try await hv.plan(changed)
            await t.expect(pending.status == 2, "plan of a changed policy should exit 2: \(pending)")
            let json = try await hv.sgctl(["plan"], changed, extra: ["--output", "json"])
            await t.expect(json.succeeded && (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil,
                           "plan --output json should print JSON: \(json)")
            let after = try await hv.snapshot()
            await t.expect(after.unchanged(since: before), "plan changed the kernel state:\n\(Self.difference(before, after))")

            try await hv.mustApply(changed)
            let settledAgain = try await hv.plan(changed)
            await t.expect(settledAgain.status == 0, "plan after applying the change should exit 0: \(settledAgain)")

            // Someone deletes the project's inet table behind its back: plan sees it, apply repairs it.
            try await hv.mustExec(["nft", "delete", "table", "inet", "secgroups"])
            let drift = try await hv.plan(changed)
            await t.expect(drift.status == 2, "plan should notice the deleted table: \(drift)")
            try await hv.mustApply(changed)
            _ = try await server.serve(tcp: "80,22")
            await t.expect([client.reaches(server.ipv4, .tcp(80)), client.doesNotReach(server.ipv4, .tcp(22))])
        }
    }

    @Test func portWhoseDeviceAppearsLaterIsPendingThenAttachedByTheNextApply() async throws {
        try await Topology.with("pending") { t in
            let hv = try await t.host("hv1")
            let client = try await hv.vm("a", 1)
            let late = try await hv.vm("late", 2, plugged: false)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("web", [Rule.ingress(["protocol": "tcp", "ports": "80"])])
            policy.port(client, groups: ["client"])
            policy.port(late, groups: ["web"])
            let first = try await hv.mustApply(policy)
            await t.expect((first.stdout + first.stderr).contains(late.device),
                           "apply should report the missing device \(late.device) as pending: \(first)")

            try await late.plugIn()
            _ = try await late.serve(tcp: "80,22")
            // Not on the bridge yet: a kernel state the policy doesn't describe
            // (it declares the port; only the next apply attaches its device).
            await t.expect([client.doesNotReach(late.ipv4, .tcp(80)).untraced("device created after the apply, not attached to its bridge yet")])
            let plan = try await hv.plan(policy)
            await t.expect(plan.status == 2, "plan should want to attach the new device: \(plan)")
            try await hv.mustApply(policy)
            let ports = try await hv.mustExec(["bridge", "link", "show", "dev", late.device])
            await t.expect(ports.contains("master sgbr-"), "the new device should be on the network's bridge: \(ports)")
            await t.expect([client.reaches(late.ipv4, .tcp(80)), client.doesNotReach(late.ipv4, .tcp(22))])
        }
    }

    @Test func doctorFindsTheDatapathUsableInAPreparedHostAndUnusableWithoutBridgeNetfilter() async throws {
        try await Topology.with("doctor") { t in
            let hv = try await t.host("hv1")
            let ready = try await hv.exec([Paths.sgctl, "doctor"])
            await t.expect(ready.status == 0, "doctor in a host prepared like the other scenarios' should exit 0: \(ready)")
            try await hv.mustExec(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"])
            let unready = try await hv.exec([Paths.sgctl, "doctor"])
            await t.expect(unready.status == 3, "doctor without bridge-nf-call-iptables should exit 3: \(unready)")
        }
    }

    /// `ip monitor link` output split into events (continuation lines are indented).
    static func linkEvents(_ output: String) -> [String] {
        var events: [String] = []
        for line in output.split(whereSeparator: \.isNewline) {
            if line.first?.isWhitespace == true, !events.isEmpty { events[events.count - 1] += "\n" + line } else { events.append(String(line)) }
        }
        return events
    }

    static func difference(_ before: Host.Snapshot, _ after: Host.Snapshot) -> String {
        var parts: [String] = []
        for (what, a, b) in [("nft list ruleset", before.ruleset, after.ruleset), ("bridge link", before.bridgePorts, after.bridgePorts), ("ip -d link", before.links, after.links)] where a != b {
            parts.append("\(what) changed:\n" + unifiedDiff(a, b))
        }
        if before.counters.count != after.counters.count || zip(before.counters, after.counters).contains(where: >) {
            parts.append("counters went back (rules replaced?): before \(before.counters) after \(after.counters)")
        }
        return parts.joined(separator: "\n")
    }

    /// The lines that differ, `-` before and `+` after (a plain LCS diff; the listings are short).
    static func unifiedDiff(_ a: String, _ b: String) -> String {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false)
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in stride(from: x.count - 1, through: 0, by: -1) {
            for j in stride(from: y.count - 1, through: 0, by: -1) {
                lcs[i][j] = x[i] == y[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var (i, j) = (0, 0)
        while i < x.count || j < y.count {
            if i < x.count, j < y.count, x[i] == y[j] {
                (i, j) = (i + 1, j + 1)
            } else if j < y.count, i == x.count || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append("+ \(y[j])")
                j += 1
            } else {
                out.append("- \(x[i])")
                i += 1
            }
        }
        return out.joined(separator: "\n")
    }
}
