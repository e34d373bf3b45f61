import HostModel
import PlanText
import PolicyCompiler
import PolicyModel
import Testing

/// The plan as text: columns, colour, and summarising of long plans.
@Suite struct PlanRendererTests {
    static let joinView = { try! PlanFixture.view(from: PlanFixture.policy, to: PlanFixture.policy(PlanFixture.setGroups("vm2", ["client", "web"]))) }()

    @Test func withoutColourTheChangesAreAlignedPlainTextGroupedUnderTheirPortGroupAndProfile() {
        let lines = PlanRenderer(style: TextStyle(colored: false)).render(Self.joinView)
        #expect(Array(lines.prefix(16)) == [
            "host hv1: 1 port, 1 group and 2 profiles changed — 9 changes (2 chains added, 1 element added, 2 elements deleted, 2 chains replaced, 2 chains deleted)",
            "port vm2 (tap-vm2): 2 chains replaced",
            "  ~ chain    inet port/tap-vm2/egress         2 rules",
            "      - jump profile/client/egress",
            "      + jump profile/client/web/egress",
            "  ~ chain    inet port/tap-vm2/ingress        2 rules",
            "      - jump profile/client/ingress",
            "      + jump profile/client/web/ingress",
            "group web: 1 element added, 2 elements deleted",
            "  - element  inet remote/web/ipv4             10.0.0.1           (port vm1)",
            "  - element  inet remote/web/ipv4             10.0.0.3           (port vm3)",
            "  + element  inet remote/web/ipv4             10.0.0.1-10.0.0.3  (ports vm1, vm2, vm3)",
            "profile client: 2 chains deleted",
            "  - chain    inet profile/client/egress       4 rules",
            "  - chain    inet profile/client/ingress      4 rules",
            "profile client/web: 2 chains added",
        ])
        #expect(!lines.joined().contains("\u{1B}"))
    }

    @Test func withColourAdditionsAreGreenDeletionsRedReplacementsYellowAndHeadingsBold() throws {
        let lines = PlanRenderer(style: TextStyle(colored: true)).render(Self.joinView)
        let green = "\u{1B}[32m", red = "\u{1B}[31m", bold = "\u{1B}[1m", reset = "\u{1B}[0m"
        #expect(lines[0].hasPrefix(bold) && lines[0].hasSuffix(reset))
        let yellow = "\u{1B}[33m"
        #expect(lines[1] == "\(bold)port vm2 (tap-vm2)\(reset): 2 chains replaced")
        #expect(lines[2] == "\(yellow)  ~ chain    inet port/tap-vm2/egress         2 rules\(reset)")
        #expect(lines[3] == "\(red)      - jump profile/client/egress\(reset)")
        #expect(lines[4].hasPrefix("\(green)      + jump"))
        #expect(lines.contains { $0.hasPrefix("\(green)  + element") })
        // Rules under a chain take the colour of their own sign.
        let rule = try #require(lines.first { $0.contains("ct state invalid") })
        #expect(rule.hasPrefix("\(green)      + "))

        let widened = PlanFixture.policy { $0.securityGroups[0].rules[0].ports = [PortRange(80), PortRange(443)] }
        let replaced = PlanRenderer(style: TextStyle(colored: true)).render(try PlanFixture.view(from: PlanFixture.policy, to: widened))
        #expect(replaced.contains("\u{1B}[33m  ~ chain  inet sg/web/ingress  5 rules\(reset)"))
        #expect(replaced.filter { $0.hasPrefix("\(red)      - ") }.count == 2)
    }

    @Test(arguments: [
        (ColorMode.auto, true, [String: String](), true),
        (.auto, false, [:], false),
        (.auto, true, ["NO_COLOR": "1"], false),
        (.auto, true, ["NO_COLOR": ""], true),
        (.auto, true, ["TERM": "dumb"], false),
        (.always, false, ["NO_COLOR": "1"], true),
        (.never, true, [:], false),
    ])
    func colourOnlyForATerminalUnlessAskedAndNeverWithNO_COLOR(_ mode: ColorMode, _ terminal: Bool, _ environment: [String: String], _ expected: Bool) {
        #expect(mode.usesColor(isTerminal: terminal, environment: environment) == expected)
    }

    /// Lines of a summarised rendering after the summary and the note that it is summarised.
    static func body(_ lines: [String]) -> ArraySlice<String> {
        #expect(lines[1].hasPrefix("(") && lines[1].hasSuffix(" lines, summarised: --full shows them all)"))
        return lines.dropFirst(2)
    }

    @Test func aLongPlanIsFirstSummarisedToEachSectionsCountsAndFirstChanges() throws {
        let view = try PlanFixture.view(from: nil, to: PlanFixture.policy)
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 60).render(view)
        let body = Self.body(lines)
        #expect(body.count <= 60)
        #expect(body.first == "port vm1 (tap-vm1): 2 chains added, 10 elements added, 1 port attached")
        #expect(body.dropFirst().prefix(4) == [
            "  + element  bridge allowed_ipv4          \"tap-vm1\" . 52:54:00:00:00:01 . 10.0.0.1",
            "  + element  bridge allowed_ipv6          \"tap-vm1\" . 52:54:00:00:00:01 . fe80::5054:ff:fe00:1",
            "  + element  bridge allowed_macs          \"tap-vm1\" . 52:54:00:00:00:01",
            "    … and 10 more",
        ])
        // Every section is there, each with its first changes and no rule lists.
        let headings = body.filter { !$0.hasPrefix(" ") }
        #expect(headings.count == view.sections.count)
        #expect(!body.contains { $0.hasPrefix("      ") })

        // In full, every change is there: one line per item and per rule.
        let full = PlanRenderer(style: TextStyle(colored: false), limit: nil).render(view)
        let items = view.sections.reduce(0) { $0 + 1 + $1.items.reduce(0) { $0 + 1 + $1.details.count } }
        #expect(full.count == 1 + items)
    }

    @Test func aScaleOutIsSummarisedToEachPortsCountsBesideTheGroupsChanges() throws {
        let view = try PlanFixture.view(from: PlanFixture.policy, to: PlanFixture.scaledOut(20))
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 40).render(view)
        #expect(lines[0] == "host hv1: 20 ports and 1 group changed — 261 changes (40 chains added, 201 elements added, 20 ports attached)")
        let body = Self.body(lines)
        #expect(body.prefix(3) == [
            "port worker-1 (tap-w1): 2 chains added, 10 elements added, 1 port attached",
            "port worker-2 (tap-w2): 2 chains added, 10 elements added, 1 port attached",
            "port worker-3 (tap-w3): 2 chains added, 10 elements added, 1 port attached",
        ])
        #expect(body.suffix(3) == [
            "port worker-20 (tap-w20): 2 chains added, 10 elements added, 1 port attached",
            "group web: 1 element added",
            "  + element  inet remote/web/ipv4  10.0.0.201-10.0.0.220  (ports worker-1, worker-2, worker-3, worker-4 and 16 more)",
        ])
        #expect(body.count == 22)
    }

    @Test func aVeryLongPlanShowsCountsOfTheGroupsAndProfilesFirstAndSaysWhatItLeftOut() throws {
        let view = try PlanFixture.view(from: nil, to: PlanFixture.crowded(30))
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 40).render(view)
        #expect(lines[0].hasPrefix("host hv1: 32 ports, 33 groups, 32 profiles and host-wide objects changed — "))
        let body = Self.body(lines)
        #expect(body.count == 40)
        // Counts only, no changes listed.
        #expect(!body.contains { $0.hasPrefix(" ") })
        #expect(body.first == "group bastion: 2 sets added")
        #expect(body.contains("group g2: 2 chains added"))
        #expect(body.firstIndex(of: "group g2: 2 chains added")! < body.firstIndex(of: "group g10: 2 chains added")!)
        let shown = view.sections.filter { body.contains($0.subject.title(host: "hv1") + ": " + $0.counts.description) }
        #expect(shown.count == body.count - 1)
        let left = view.sections.count - shown.count
        let leftChanges = view.counts.total - shown.reduce(0) { $0 + $1.items.count }
        #expect(body.last == "… and \(left) more: 32 ports, 26 profiles, the host-wide objects; \(leftChanges) changes (use --full)")
    }

    @Test func pendingDevicesAreSummarisedWithTheRestOfALargePlan() throws {
        let policy = PlanFixture.scaledOut(20)
        let desired = try PolicyCompiler(policy).compile(host: "hv1")
        let devices = policy.ports.filter { $0.host == "hv1" }.map(\.device)
        // As Dataplane plans it: the missing devices' filtering, but no attachment.
        var reachable = desired
        for device in devices { reachable.links.ports[device] = nil }
        let view = PlanView(
            host: "hv1", delta: diff(HostState(), reachable), policy: policy, desired: desired,
            pending: devices.map { "port device \($0) does not exist yet" }, pendingDevices: devices)
        #expect(view.sections.first?.pending == true)
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 60).render(view)
        #expect(lines.filter { $0.hasPrefix("pending: ") }.count == PlanRenderer.sample)
        #expect(lines.last == "… and \(devices.count - PlanRenderer.sample) more pending (use --full)")
        #expect(lines.contains("port worker-1 (tap-w1), device not there yet (pending): 2 chains added, 10 elements added"))
        let full = PlanRenderer(style: TextStyle(colored: false), limit: nil).render(view)
        #expect(full.filter { $0.hasPrefix("pending: ") }.count == devices.count)
    }

    @Test func aPlanWithinTheLimitIsShownWhole() throws {
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 1000).render(Self.joinView)
        #expect(!lines.contains { $0.contains("summarised") || $0.contains("more") })
    }
}
