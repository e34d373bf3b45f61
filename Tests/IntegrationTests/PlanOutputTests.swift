import Foundation
import Testing

/// `sgctl plan` as an operator reads it, against a real kernel: changes
/// grouped by the port and group they are about, colour only when asked
/// for (the harness reads sgctl through a pipe, as a script would), long
/// plans summarised.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct PlanOutputTests {
    @Test func aVMJoiningAGroupIsShownUnderItsPortAndUnderTheGroupWhoseMembersItJoins() async throws {
        try await Topology.with("planview") { t in
            let hv = try await t.host("hv1")
            let a = try await hv.vm("a", 1)
            let b = try await hv.vm("b", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            // Web members may ping each other: the group's members are an address set.
            policy.group("web", [
                Rule.ingress(["protocol": "tcp", "ports": "80"]),
                Rule.ingress(["protocol": "icmp", "remote": ["group": "web"]]),
            ])
            policy.port(a, groups: ["client"])
            policy.port(b, groups: ["web"])
            try await hv.mustApply(policy)

            var joined = policy
            joined.setGroups(of: a, ["client", "web"])
            let plan = try await hv.plan(joined)
            await t.expect(plan.status == 2, "plan of a membership change should exit 2: \(plan)")
            let lines = plan.stdout.split(separator: "\n").map(String.init)
            await t.expect(lines.first?.hasPrefix("host hv1: 1 port, 1 group and 2 profiles changed — ") == true, "summary line: \(plan)")

            // The port's section: its own chains now jump to the new profile, nothing else of it changes.
            let portLines = Self.section("port a (\(a.device))", in: lines)
            await t.expect(portLines.filter { $0.hasPrefix("  ") && !$0.hasPrefix("      ") }.map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
                               == ["~ chain inet", "~ chain inet"] && portLines.contains { $0.contains("inet port/\(a.device)/egress") },
                           "port a's section should hold its two chains, replaced: \(plan)")
            await t.expect(portLines.filter { $0.hasPrefix("      + ") } == ["      + jump profile/client/web/egress", "      + jump profile/client/web/ingress"],
                           "port a's chains should now jump to profile client/web: \(plan)")

            // The group's section: a's addresses join web's member sets, and the plan says whose they are.
            let groupLines = Self.section("group web", in: lines)
            for family in ["ipv4", "ipv6"] {
                let added = groupLines.filter { $0.hasPrefix("  + element  inet remote/web/\(family)") }
                await t.expect(!added.isEmpty && added.allSatisfy { $0.hasSuffix("(port a)") || $0.contains("(ports a, ") },
                               "group web's \(family) members should gain port a's address: \(plan)")
            }
            await t.expect(!plan.stdout.contains("\u{1B}"), "plan through a pipe should have no escape codes: \(plan)")

            let colored = try await hv.sgctl(["plan"], joined, extra: ["--color", "always"])
            await t.expect(colored.stdout.contains("\u{1B}[32m  + element  inet remote/web/ipv4") && colored.stdout.contains("\u{1B}[31m  - element"),
                           "--color always should paint additions green and deletions red: \(colored)")
            let never = try await hv.sgctl(["plan"], joined, extra: ["--color", "never"])
            await t.expect(never.stdout == plan.stdout, "--color never should print what a pipe gets:\n\(never.stdout)\nvs\n\(plan.stdout)")

            let short = try await hv.sgctl(["plan"], joined, extra: ["--limit", "3"])
            await t.expect(short.stdout.contains("summarised: --full shows them all") && short.stdout.contains("(use --full)"),
                           "a plan longer than --limit should be summarised: \(short)")
            let full = try await hv.sgctl(["plan"], joined, extra: ["--limit", "3", "--full"])
            await t.expect(full.stdout == plan.stdout, "--full should show the whole plan:\n\(full.stdout)")

            // What the plan showed is what apply does: afterwards there is nothing left to plan.
            try await hv.mustApply(joined)
            let settled = try await hv.plan(joined)
            await t.expect(settled.status == 0 && settled.stdout == "host hv1: no changes\n", "plan after the apply: \(settled)")
        }
    }

    /// The item lines under a section heading (up to the next heading).
    static func section(_ title: String, in lines: [String]) -> [String] {
        guard let start = lines.firstIndex(where: { $0.hasPrefix(title + ":") }) else { return [] }
        return Array(lines[(start + 1)...].prefix { $0.hasPrefix(" ") })
    }
}
