import Foundation
import Testing

/// `sgctl watch` reading real packets that log rules sent to NFLOG in a
/// host's namespace. The compiler doesn't emit log rules yet, so the host
/// gets a hand-made table whose rules log with the prefixes it will write
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
            let hv = try await t.host("hv1")
            let cli = try await hv.vm("cli", 1)
            let srv = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("open", Rule.open)
            policy.port(cli, groups: ["open"])
            policy.port(srv, groups: ["open"])
            try await hv.mustApply(policy)
            try await hv.mustExec(["nft", "-f", "-"], stdin: Self.table)
            _ = try await srv.serve(tcp: "80")

            let watch = try await startWatch(t, hv, ["--count", "3", "--output", "json"])
            // Neither reported: tcp/80 isn't logged, and port 7's prefix isn't ours.
            await t.expect([cli.reaches(srv.ipv4, .tcp(80))])
            try await send(cli, ["tcp", srv.ipv4, "7", "--sport", "40007"])
            // Reported, in this order.
            try await send(cli, ["tcp", srv.ipv4, "9", "--sport", "40009"])
            try await send(cli, ["udp", srv.ipv6, "9", "--sport", "40010"])
            let ping = try await cli.exec(["ping", "-n", "-c", "1", "-W", "1", srv.ipv4])
            await t.expect(!ping.succeeded, "the hand-made table should drop the ping: \(ping)")

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
            let hv = try await t.host("hv1")
            let cli = try await hv.vm("cli", 1)
            let srv = try await hv.vm("srv", 2)
            var policy = PolicyDoc.oneNetwork(hv)
            policy.group("open", Rule.open)
            policy.port(cli, groups: ["open"])
            policy.port(srv, groups: ["open"])
            try await hv.mustApply(policy)
            try await hv.mustExec(["nft", "-f", "-"], stdin: Self.table)

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
        if out.succeeded { throw HarnessError("\(arguments) should have been dropped: \(out)") }
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
