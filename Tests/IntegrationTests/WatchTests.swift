import Foundation
import Testing

/// `sgctl watch` reading real packets that log rules sent to NFLOG in a
/// host's namespace: the rules the compiler writes for a port with
/// `"log": true`, and, to pin the reader's fields down packet by packet, a
/// hand-made table whose rules log with the compiler's prefixes
/// (`sg drop egress PORT`) and one with another program's prefix. Its chain
/// runs before the security groups' (priority -10) and drops what it logs.
@Suite(.enabled(if: Root.available, Root.reason), .timeLimit(Slowness.minutes(2)))
struct WatchTests {
    static let table = """
        table inet sgwatchtest {
            chain f {
                type filter hook forward priority -10;
                tcp dport 9 log prefix "sg drop egress cli" group 2718 drop
                udp dport 9 log prefix "sg drop ingress srv" group 2718 drop
                icmp type echo-request log prefix "sg drop egress cli" group 2718 drop
                tcp dport 7 log prefix "other-tool: port 7" group 2718 drop
            }
        }
        """

    @Test func eachLoggedPacketIsReportedWithItsPortDirectionTupleAndVerdictAndOtherPrefixesOnlyWithAll() async throws {
        try await Topology.with("watch") { t in
            let (hv, cli, srv) = try await Self.openPairWithHandMadeLogRules(t)
            _ = try await srv.serve(tcp: "80")

            let watch = try await startWatch(t, hv, ["--count", "3", "--output", "json"])
            // Neither reported: tcp/80 isn't logged, and port 7's prefix isn't ours.
            await t.expect([cli.reaches(srv.ipv4, .tcp(80))])
            try await send(cli, ["tcp", srv.ipv4, "7", "--sport", "40007"])
            // Reported, in this order.
            try await send(cli, ["tcp", srv.ipv4, "9", "--sport", "40009"])
            try await send(cli, ["udp", srv.ipv6, "9", "--sport", "40010"])
            let ping = try await cli.exec(["ping", "-n", "-c", "1", "-W", "1", srv.ipv4])
            await t.expect(ping.finished && ping.status == 1, "the hand-made table should drop the ping: \(ping)")

            let status = await finished(watch)
            await t.expect(status == 0, "watch --count 3 should exit 0 after three packets: exit \(String(describing: status)), \(watch.stderr)")
            let records = watch.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            await t.expect(records.count == 3 && watch.lines.count == 3, "three JSON lines expected:\n\(watch.stdout)")
            guard records.count == 3 else { return }

            // Compared as text: JSONSerialization's numbers are NSNumbers.
            let expected: [[String: String]] = [
                ["port": "cli", "direction": "egress", "verdict": "drop", "family": "ipv4", "protocol": "tcp",
                 "source": cli.ipv4, "destination": srv.ipv4, "sourcePort": "40009", "destinationPort": "9", "tcpFlags": "syn",
                 "packet": "tcp \(cli.ipv4):40009 -> \(srv.ipv4):9 [syn]", "prefix": "sg drop egress cli"],
                ["port": "srv", "direction": "ingress", "verdict": "drop", "family": "ipv6", "protocol": "udp",
                 "source": cli.ipv6, "destination": srv.ipv6, "sourcePort": "40010", "destinationPort": "9",
                 "packet": "udp [\(cli.ipv6)]:40010 -> [\(srv.ipv6)]:9"],
                ["port": "cli", "direction": "egress", "verdict": "drop", "family": "ipv4", "protocol": "icmp",
                 "source": cli.ipv4, "destination": srv.ipv4, "icmpType": "8", "icmpCode": "0",
                 "packet": "icmp \(cli.ipv4) -> \(srv.ipv4) type 8 code 0"],
            ]
            for (record, fields) in zip(records, expected) {
                for (key, value) in fields {
                    await t.expect(record[key].map { "\($0)" } == value, "\(key) should be \(value) in \(record)")
                }
                await t.expect(record["reason"] as? String == "no rule of its security groups allowed it", "reason of \(record)")
                // Bridged: the bridge ports, named as the host's namespace names them.
                await t.expect(record["physicalInDevice"] as? String == cli.device && record["physicalOutDevice"] as? String == srv.device,
                               "the packet's bridge ports should be \(cli.device) -> \(srv.device): \(record)")
                await t.expect(record["hook"] as? String == "forward" && record["group"].map { "\($0)" } == "2718", "hook and group of \(record)")
                let time = (record["time"] as? String).flatMap(Self.isoTime)
                await t.expect(time.map { abs($0.timeIntervalSinceNow) < 120 } == true, "time should be now, UTC with milliseconds: \(record)")
            }
            await t.expect(records[0]["length"].map { "\($0)" } == "60", "a SYN with options is 60 bytes long: \(records[0])")
        }
    }

    @Test func allShowsOtherPrefixesAndTextLinesAreAlignedAndASecondWatcherIsRefused() async throws {
        try await Topology.with("watchall") { t in
            let (hv, cli, srv) = try await Self.openPairWithHandMadeLogRules(t)

            let watch = try await startWatch(t, hv, ["--count", "2", "--all"])
            // Only one reader per group and namespace.
            let second = try await Shell.run([Paths.sgctl, "watch", "--netns", hv.namespace, "--seconds", "1"])
            await t.expect(second.status == 1 && second.stderr.contains("bind NFLOG group 2718")
                           && second.stderr.contains("another program (ulogd, another sgctl watch) is reading this group"),
                           "a second watcher of the group should exit 1 saying why: \(second)")

            try await send(cli, ["tcp", srv.ipv4, "7", "--sport", "40007"])
            try await send(cli, ["tcp", srv.ipv4, "9", "--sport", "40009"])
            let status = await finished(watch)
            await t.expect(status == 0, "watch --count 2 should exit 0: \(String(describing: status)), \(watch.stderr)")
            let lines = watch.lines
            await t.expect(lines.count == 2, "two text lines expected:\n\(watch.stdout)")
            guard lines.count == 2 else { return }

            let time = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  /#
            await t.expect(lines.allSatisfy { $0.contains(time) }, "lines should start with the UTC time in milliseconds:\n\(watch.stdout)")
            let foreign = lines[0].dropFirst(26)
            await t.expect(foreign.hasPrefix("-             -        tcp \(cli.ipv4):40007 -> \(srv.ipv4):7 [syn]")
                           && foreign.hasSuffix("-       logged by another rule (prefix \"other-tool: port 7\")"),
                           "another rule's packet, with --all:\n\(lines[0])")
            let ours = lines[1].dropFirst(26)
            await t.expect(ours.hasPrefix("cli           egress   tcp \(cli.ipv4):40009 -> \(srv.ipv4):9 [syn]")
                           && ours.hasSuffix("drop    no rule of its security groups allowed it"),
                           "a security group's drop:\n\(lines[1])")
            // Columns: the verdict starts at the same place on both lines.
            let verdictColumn = lines.map { $0.range(of: "  drop  ")?.lowerBound ?? $0.range(of: "  -       logged")?.lowerBound }
            await t.expect(verdictColumn[0].map { lines[0].distance(from: lines[0].startIndex, to: $0) }
                           == verdictColumn[1].map { lines[1].distance(from: lines[1].startIndex, to: $0) },
                           "the verdict column should line up:\n\(watch.stdout)")
        }
    }

    @Test func aPortWithLogTrueHasItsOwnDropsReportedAndNoOtherPortsOrAcceptedPackets() async throws {
        try await Topology.with("watchlog") { t in
            let hv = try await t.host("hv1")
            let cli = try await hv.vm("cli", 1)
            let srv = try await hv.vm("srv", 2)
            let other = try await hv.vm("other", 3)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("client", [Rule.egress()])
            policy.group("server", [Rule.ingress(["protocol": "tcp", "ports": "80"])])
            policy.port(cli, groups: ["client"])
            policy.port(srv, groups: ["server"], log: true)
            policy.port(other, groups: ["server"])
            try await hv.mustApply(policy)
            // nft, an independent reader, lists the rate-limited log rule before srv's drop.
            let chain = try await hv.mustExec(["nft", "list", "chain", "inet", "secgroups", "port/\(srv.device)/ingress"])
            await t.expect(chain.contains(#"limit rate 10/second burst 20 packets log prefix "sg drop ingress srv" group 2718"#),
                           "srv's ingress chain should log its drops: \(chain)")
            let otherChain = try await hv.mustExec(["nft", "list", "chain", "inet", "secgroups", "port/\(other.device)/ingress"])
            await t.expect(!otherChain.contains(" log "), "other has no log: \(otherChain)")
            _ = try await srv.serve(tcp: "80")

            let watch = try await startWatch(t, hv, ["--seconds", "\(5 * Slowness.factor)", "--output", "json"])
            await t.expect([cli.reaches(srv.ipv4, .tcp(80))])                  // accepted: not logged
            try await send(cli, ["tcp", other.ipv4, "22", "--sport", "40022"])  // dropped at other: not logged
            try await send(cli, ["tcp", srv.ipv4, "22", "--sport", "40023"])    // dropped at srv's ingress
            try await send(srv, ["udp", cli.ipv4, "9", "--sport", "40024"])     // srv has no egress rule
            let status = await finished(watch)
            await t.expect(status == 0, "watch --seconds should exit 0 when its time is up: \(String(describing: status)), \(watch.stderr)")

            let records = watch.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            func field(_ record: [String: Any], _ key: String) -> String? { record[key].map { "\($0)" } }
            // Whatever else srv dropped meanwhile (the VMs' multicast chatter) is
            // srv's too; nothing of another port and nothing accepted is there.
            await t.expect(!records.isEmpty && records.allSatisfy { field($0, "port") == "srv" && field($0, "verdict") == "drop" },
                           "only srv's drops should be reported:\n\(watch.stdout)")
            await t.expect(!records.contains { field($0, "destinationPort") == "80" || field($0, "sourcePort") == "80" },
                           "the accepted connection should not be logged:\n\(watch.stdout)")
            let refused = records.filter { field($0, "sourcePort") == "40023" }
            await t.expect(refused.count == 1 && refused.first.map { field($0, "direction") == "ingress" && field($0, "destinationPort") == "22"
                                                                     && field($0, "destination") == srv.ipv4 && field($0, "protocol") == "tcp" } == true,
                           "the SYN refused at srv should be reported once, ingress: \(refused)")
            let sent = records.filter { field($0, "sourcePort") == "40024" }
            await t.expect(sent.count == 1 && sent.first.map { field($0, "direction") == "egress" && field($0, "destination") == cli.ipv4
                                                                  && field($0, "prefix") == "sg drop egress srv" } == true,
                           "srv's datagram dropped on its way out should be reported once, egress: \(sent)")
            print("WatchTests: sgctl watch of a logged port, as JSON:\n\(watch.stdout)")

            // As people read it.
            let text = try await startWatch(t, hv, ["--seconds", "\(3 * Slowness.factor)"])
            try await send(cli, ["tcp", srv.ipv4, "22", "--sport", "40025"])
            try await send(srv, ["udp", cli.ipv6, "53", "--sport", "40026"])
            _ = await finished(text)
            await t.expect(text.lines.contains { $0.contains(" srv ") && $0.contains(" ingress  tcp \(cli.ipv4):40025 -> \(srv.ipv4):22 [syn]") && $0.hasSuffix("drop    no rule of its security groups allowed it") },
                           "a text line for the refused SYN:\n\(text.stdout)")
            print("WatchTests: sgctl watch:\n\(text.stdout)")
        }
    }

    /// Two VMs whose groups let everything through, and the hand-made log
    /// table in front of them.
    static func openPairWithHandMadeLogRules(_ t: Topology) async throws -> (Host, VM, VM) {
        let hv = try await t.host("hv1")
        let cli = try await hv.vm("cli", 1)
        let srv = try await hv.vm("srv", 2)
        var policy = PolicyDoc.oneNetwork(hv)
        policy.group("open", Rule.open)
        policy.port(cli, groups: ["open"])
        policy.port(srv, groups: ["open"])
        try await hv.mustApply(policy)
        try await hv.mustExec(["nft", "-f", "-"], stdin: Self.table)
        return (hv, cli, srv)
    }

    /// Starts `sgctl watch --netns HOST ARGS` and waits until it has bound the group.
    func startWatch(_ t: Topology, _ host: Host, _ arguments: [String]) async throws -> Child {
        let watch = try t.start([Paths.sgctl, "watch", "--netns", host.namespace] + arguments)
        guard await watch.waitForStderr("watching NFLOG group 2718", timeout: .seconds(10)) else {
            throw HarnessError("sgctl watch did not bind: \(watch.stderr)")
        }
        return watch
    }

    /// One probe.py client attempt that the hand-made table drops. Its
    /// timeout is below TCP's first SYN retransmission (1 s), so that each
    /// attempt is exactly one packet; not stretched by Slowness, as nothing
    /// is expected back.
    func send(_ vm: VM, _ arguments: [String]) async throws {
        let out = try await vm.exec([Paths.script("probe.py")] + arguments + ["--timeout", "0.5"])
        // probe.py exits 1 when nothing came back; anything else (through, or no answer) is wrong.
        if !(out.finished && out.status == 1) { throw HarnessError("\(arguments) should have been dropped: \(out)") }
    }

    /// The watcher's exit status, nil if it still runs after 10 s.
    func finished(_ child: Child) async -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10) * Slowness.factor)
        while child.isRunning && clock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if child.isRunning { return nil }
        return await child.exitStatus()
    }

    /// ISO 8601 with milliseconds, as watch prints it; nil for anything else.
    static func isoTime(_ text: String) -> Date? {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.date(from: text)
    }
}
