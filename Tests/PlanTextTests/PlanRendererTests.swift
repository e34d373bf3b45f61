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
            "host hv1: 1 port, 1 group and 2 profiles changed — 11 changes (2 chains added, 3 elements added, 4 elements deleted, 2 chains deleted)",
            "port vm2 (tap-vm2): 2 elements added, 2 elements deleted",
            "  - element  inet egress_ports                0x29ce0000 : goto profile/client/egress",
            "  + element  inet egress_ports                0x29ce0000 : goto profile/client/web/egress",
            "  - element  inet ingress_ports               0x800014e7 : goto profile/client/ingress",
            "  + element  inet ingress_ports               0x800014e7 : goto profile/client/web/ingress",
            "group web: 1 element added, 2 elements deleted",
            "  - element  inet remote/web/ipv4             10.0.0.1           (port vm1)",
            "  - element  inet remote/web/ipv4             10.0.0.3           (port vm3)",
            "  + element  inet remote/web/ipv4             10.0.0.1-10.0.0.3  (ports vm1, vm2, vm3)",
            "profile client: 2 chains deleted",
            "  - chain    inet profile/client/egress       5 rules",
            "  - chain    inet profile/client/ingress      5 rules",
            "profile client/web: 2 chains added",
            "  + chain    inet profile/client/web/egress   6 rules",
            "      + ct state invalid counter drop comment \"invalid\"",
        ])
        #expect(!lines.joined().contains("\u{1B}"))
    }

    @Test func withColourAdditionsAreGreenDeletionsRedReplacementsYellowAndHeadingsBold() throws {
        let lines = PlanRenderer(style: TextStyle(colored: true)).render(Self.joinView)
        let green = "\u{1B}[32m", red = "\u{1B}[31m", bold = "\u{1B}[1m", reset = "\u{1B}[0m"
        #expect(lines[0].hasPrefix(bold) && lines[0].hasSuffix(reset))
        #expect(lines[1] == "\(bold)port vm2 (tap-vm2)\(reset): 2 elements added, 2 elements deleted")
        #expect(lines[2] == "\(red)  - element  inet egress_ports                0x29ce0000 : goto profile/client/egress\(reset)")
        #expect(lines[3].hasPrefix("\(green)  + element"))
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

    @Test func aLargePlanIsSummarisedToCountsAndTheFirstChangesOfEachSectionWithinTheLimit() throws {
        let view = try PlanFixture.view(from: nil, to: PlanFixture.crowded(30))
        let renderer = PlanRenderer(style: TextStyle(colored: false), limit: 40)
        let lines = renderer.render(view)
        // The summary line, the note that it is summarised, the sections that
        // fit in 40 lines and one line for the rest.
        #expect(lines.count <= 40 + 3)
        #expect(lines[0].hasPrefix("host hv1: 32 ports, 33 groups, 32 profiles and host-wide objects changed — "))
        #expect(lines[1].hasPrefix("(") && lines[1].hasSuffix(" lines, summarised: --full shows them all)"))
        #expect(lines[2] == "port extra0 (tap-x0): 9 elements added, 1 port attached")
        #expect(lines[6] == "    … and 7 more")
        let shown = lines.filter { !$0.hasPrefix(" ") && !$0.hasPrefix("…") }.count - 2
        let rest = try #require(lines.last)
        #expect(rest.hasPrefix("… and \(view.sections.count - shown) more: "))
        #expect(rest.hasSuffix(" (use --full)"))
        #expect(rest.contains("the host-wide objects"))
        // No rule lists under chains while summarising.
        #expect(!lines.contains { $0.hasPrefix("      ") })

        // In full, every change is there: one line per item and per rule.
        let full = PlanRenderer(style: TextStyle(colored: false), limit: nil).render(view)
        let items = view.sections.reduce(0) { $0 + 1 + $1.items.reduce(0) { $0 + 1 + $1.details.count } }
        #expect(full.count == 1 + items)
        #expect(full.contains("port extra29 (tap-x29): 9 elements added, 1 port attached"))
    }

    @Test func pendingDevicesAreSummarisedWithTheRestOfALargePlan() throws {
        let policy = PlanFixture.crowded(20)
        let desired = try PolicyCompiler(policy).compile(host: "hv1")
        let devices = policy.ports.filter { $0.host == "hv1" }.map(\.device)
        // As Dataplane plans it: the missing devices' filtering, but no attachment.
        var reachable = desired
        for device in devices { reachable.links.ports[device] = nil }
        let view = PlanView(
            host: "hv1", delta: diff(HostState(), reachable), policy: policy, desired: desired,
            pending: devices.map { "port device \($0) does not exist yet" }, pendingDevices: devices)
        #expect(view.sections.first?.pending == true)
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 40).render(view)
        #expect(lines.filter { $0.hasPrefix("pending: ") }.count == PlanRenderer.sample)
        #expect(lines.last == "… and \(devices.count - PlanRenderer.sample) more pending (use --full)")
        #expect(lines[2] == "port extra0 (tap-x0), device not there yet (pending): 9 elements added")
        let full = PlanRenderer(style: TextStyle(colored: false), limit: nil).render(view)
        #expect(full.filter { $0.hasPrefix("pending: ") }.count == devices.count)
    }

    @Test func aPlanWithinTheLimitIsShownWhole() throws {
        let lines = PlanRenderer(style: TextStyle(colored: false), limit: 1000).render(Self.joinView)
        #expect(!lines.contains { $0.contains("summarised") || $0.contains("more") })
    }
}
