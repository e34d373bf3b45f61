import ArgumentParser
import Foundation
import PolicyModel
import PolicyTrace

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Explain what the compiled policy does with one packet, without a kernel.",
        discussion: """
            Follows the first packet of a connection (a TCP SYN, a UDP datagram, an ICMP \
            echo request...) through the rulesets compiled for the hosts on its path, as \
            the kernel would: the source port's egress (port security, conntrack, its \
            groups' rules), then the destination port's ingress, then its answer. \
            --from and --to are port names or addresses; an address of a port (an IP or \
            an address pair) is that port, any other address is outside the policy and \
            only the port end's checks apply.

            --proto any traces a packet of a protocol no rule names (253), so only rules \
            for every protocol admit it. Without --sport, the source port is 49152.

            Exit codes: 0 the packet is allowed; 2 it is dropped; 1 the policy is invalid, \
            or a port or address can't be traced; 64 wrong usage.
            """)

    @OptionGroup var input: PolicyInput

    @Option(help: "The sender: a port name or an IP address.")
    var from: String

    @Option(help: "The receiver: a port name or an IP address.")
    var to: String

    @Option(name: .customLong("from-ip"), help: "The address the --from port sends from (default: its own); another shows port security at work.")
    var fromIP: String?

    @Option(name: .customLong("proto"), help: "tcp, udp, sctp, icmp, icmpv6, any, or a protocol number 0-255.")
    var proto: String = "tcp"

    @Option(help: "Destination port (tcp, udp, sctp).")
    var dport: UInt16?

    @Option(help: "Source port (tcp, udp, sctp; default 49152).")
    var sport: UInt16?

    @Option(name: .customLong("icmp-type"), help: "ICMP or ICMPv6 type (default: echo request, 8 or 128).")
    var icmpType: UInt8?

    @Option(name: .customLong("icmp-code"), help: "ICMP or ICMPv6 code (default 0).")
    var icmpCode: UInt8?

    @Option(help: "ipv4 or ipv6, when neither the addresses nor the protocol say (default: ipv4 if both ports have an IPv4 address).")
    var ethertype: EtherType?

    @Option(help: "text or json.")
    var output: TraceOutput = .text

    enum TraceOutput: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        guard protocolValue != nil else {
            throw ValidationError("--proto \(proto): expected tcp, udp, sctp, icmp, icmpv6, any, or a number 0-255")
        }
        if let fromIP, IPAddress(fromIP) == nil { throw ValidationError("--from-ip \(fromIP) is not an IP address") }
        if fromIP != nil, IPAddress(from) != nil { throw ValidationError("--from-ip needs --from to name a port, not an address") }
    }

    private var protocolValue: IPProtocol? {
        if let named = IPProtocol(name: proto) { return named }
        return UInt8(proto).map { IPProtocol(number: $0) }
    }

    func run() throws {
        let policy = try input.load()
        var source = EndpointSpec(from)
        if case .port(let name, _) = source, let fromIP { source = .port(name, address: IPAddress(fromIP)) }
        let probe = Probe(proto: protocolValue!, sourcePort: sport, destinationPort: dport, icmpType: icmpType, icmpCode: icmpCode)
        let trace: Trace
        do {
            trace = try Tracer(policy: policy).trace(from: source, to: EndpointSpec(to), probe: probe, ethertype: ethertype?.family)
        } catch {
            printError("sgctl: \(error)")
            throw ExitStatus.untraceable
        }
        switch output {
        case .text:
            print(TraceText.render(trace), terminator: "")
        case .json:
            try printJSON(trace)
        }
        if trace.verdict == .dropped { throw ExitStatus.dropped }
    }
}

extension EtherType: ExpressibleByArgument {}
