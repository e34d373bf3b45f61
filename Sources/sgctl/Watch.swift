import ArgumentParser
import Foundation
import HostModel
import Netlink
import PacketSummary
import PolicyModel

/// `sgctl watch`: the packets the ports' log rules report, as they come.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the packets the security groups' log rules report (NFLOG), one line each, as they come.",
        discussion: """
            Reads the NFLOG group the compiler's log rules send to (ports with "log": true) \
            and prints, per packet: the time (UTC), the port, the direction, the packet \
            (protocol, addresses and ports, or ICMP type and code), the verdict and what \
            decided it. Packets logged by other rules (another prefix) are skipped unless \
            --all is given. "watching NFLOG group N" goes to standard error once the group \
            is bound.

            Only one program per network namespace can read a group: exit 1 when another \
            one (ulogd, another sgctl watch) has it, or without CAP_NET_ADMIN. Exit 3 when \
            reading fails later.
            """)

    @OptionGroup var kernel: KernelOptions

    @Option(help: "The NFLOG group to read.")
    var group: UInt16 = LogPrefix.group

    @Option(help: "Exit after printing this many packets.")
    var count: Int?

    @Option(help: "Exit after this many seconds (fractions allowed).")
    var seconds: Double?

    @Option(help: "text (aligned columns) or json (one object per line).")
    var output: WatchOutput = .text

    @Flag(help: "Also print packets whose log prefix is not a security group's.")
    var all = false

    enum WatchOutput: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let seconds, !(seconds > 0) { throw ValidationError("--seconds must be more than 0") }
    }

    func run() throws {
        let connection: NFLogConnection
        do {
            connection = try kernel.inNamespace { try NFLogConnection(group: group) }
        } catch let error as NetlinkError {
            printError("sgctl: \(error)\(Self.hint(for: error))")
            throw ExitCode(1)
        } catch {
            printError("sgctl: \(error)")
            throw ExitCode(1)
        }
        printError("watching NFLOG group \(group)" + (kernel.netns.map { " in network namespace \($0)" } ?? ""))

        let deadline = seconds.map { ContinuousClock.now + .milliseconds(Int64(($0 * 1000).rounded(.up))) }
        var printer = WatchPrinter(output: output)
        var printed = 0
        while count.map({ printed < $0 }) ?? true {
            var wait: Duration?
            if let deadline {
                let left = deadline - .now
                if left <= .zero { break }
                wait = left
            }
            let packets: [LoggedPacket]
            do {
                packets = try connection.receive(timeout: wait)
            } catch where error.errno == ENOBUFS {
                // Reading fell behind a burst; what comes next is still worth showing.
                printError("sgctl: some logged packets were lost (the socket's buffer overflowed)")
                continue
            } catch {
                throw kernelFailure(error)
            }
            for packet in packets {
                let record = WatchRecord(packet)
                guard all || record.port != nil else { continue }
                printer.print(record)
                printed += 1
                if let count, printed >= count { break }
            }
        }
    }

    /// What to do about the usual binding failures. The kernel answers EPERM
    /// both to a process without CAP_NET_ADMIN and to a second socket binding
    /// a group another one holds, so the process's capabilities tell which.
    static func hint(for error: NetlinkError) -> String {
        let taken = "; another program (ulogd, another sgctl watch) is reading this group in this network namespace"
        switch error.errno {
        case EPERM: return hasNetAdmin() ? taken : "; reading NFLOG needs CAP_NET_ADMIN (run as root)"
        case EBUSY: return taken
        default: return ""
        }
    }

    /// CAP_NET_ADMIN (bit 12) in the effective set, from /proc/self/status.
    static func hasNetAdmin() -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let bits = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return bits & (1 << 12) != 0
    }
}

/// One logged packet as `sgctl watch` shows it; also its JSON object.
struct WatchRecord: Encodable {
    var time: String
    /// From a security-group prefix; nil for another rule's packets.
    var port: String?
    var direction: String?
    var verdict: String?
    /// What decided, in words.
    var reason: String
    var prefix: String
    var family: String?
    var `protocol`: String?
    var source: String?
    var destination: String?
    var sourcePort: UInt16?
    var destinationPort: UInt16?
    var icmpType: UInt8?
    var icmpCode: UInt8?
    var tcpFlags: String?
    var length: Int?
    var fragment: Bool?
    /// What of the packet could not be read.
    var problem: String?
    /// The packet in one phrase: `tcp 10.0.0.1:40000 -> 10.0.0.2:22 [syn]`.
    var packet: String
    var hook: String
    var inDevice: String?
    var outDevice: String?
    var physicalInDevice: String?
    var physicalOutDevice: String?
    var group: UInt16

    init(_ logged: LoggedPacket) {
        let summary = PacketSummary(packet: logged.payload)
        time = Self.timeFormat.string(from: logged.time)
        prefix = logged.prefix
        if let ours = LogPrefix(text: logged.prefix) {
            port = ours.port
            direction = ours.direction.rawValue
            verdict = ours.verdict.rawValue
            reason = switch ours.verdict {
            case .drop: "no rule of its security groups allowed it"
            case .accept: "a rule of its security groups allowed it"
            }
        } else {
            reason = "logged by another rule (prefix \"\(logged.prefix)\")"
        }
        family = (summary.family ?? logged.networkFamily)?.rawValue
        `protocol` = summary.transport?.description
        source = summary.source?.description
        destination = summary.destination?.description
        sourcePort = summary.sourcePort
        destinationPort = summary.destinationPort
        icmpType = summary.icmpType
        icmpCode = summary.icmpCode
        tcpFlags = summary.tcpFlags?.description
        length = summary.length
        fragment = summary.isLaterFragment ? true : nil
        problem = summary.problem
        packet = summary.description
        hook = logged.hookName
        inDevice = logged.inDevice
        outDevice = logged.outDevice
        physicalInDevice = logged.physicalInDevice
        physicalOutDevice = logged.physicalOutDevice
        group = logged.group
    }

    /// ISO 8601 in UTC with milliseconds: 2025-06-01T12:00:00.123Z.
    nonisolated(unsafe) static let timeFormat: ISO8601DateFormatter = {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        format.timeZone = TimeZone(identifier: "UTC")
        return format
    }()
}

/// Writes records to standard output as they come, flushed one by one (a
/// pipe would otherwise hold them back). Text columns widen to the longest
/// value seen so far, so a long port name shifts only the lines after it.
struct WatchPrinter {
    let output: Watch.WatchOutput
    private var widths = [12, 7, 40, 6]  // port, direction, packet, verdict
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(output: Watch.WatchOutput) { self.output = output }

    mutating func print(_ record: WatchRecord) {
        switch output {
        case .json:
            guard let data = try? encoder.encode(record) else { return }
            Swift.print(String(decoding: data, as: UTF8.self))
        case .text:
            Swift.print(line(record))
        }
        fflush(nil)  // all streams: stdout itself is shared mutable state to Swift 6
    }

    /// `2025-06-01T12:00:00.123Z  vm-1          egress   tcp 10.0.0.1:40000 -> 10.0.0.2:22 [syn]  drop    no rule of its security groups allowed it`
    mutating func line(_ record: WatchRecord) -> String {
        let cells = [record.port ?? "-", record.direction ?? "-", record.packet, record.verdict ?? "-"]
        for (i, cell) in cells.enumerated() { widths[i] = max(widths[i], cell.count) }
        let padded = cells.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
        return ([record.time] + padded + [record.reason]).joined(separator: "  ")
    }
}
