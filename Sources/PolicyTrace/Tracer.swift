import HostModel
import PolicyCompiler
import PolicyModel

/// `sgctl trace`: one packet through the rulesets the compiler emits for
/// the hosts on its path, interpreted in userspace (no kernel), explained
/// step by step like ovn-trace: egress of the source port, ingress of the
/// destination port, the verdict, and what happens to the answer.
///
/// It interprets the compiled HostState rather than re-reading the policy,
/// so that it says what the kernel will do with the rules as written, and
/// can quote their chains and comments; a compiler bug shows in the trace
/// as it would in the kernel.
public struct Tracer: Sendable {
    public let policy: Policy
    private let compiler: PolicyCompiler
    private let resolver: EndpointResolver
    private let explainer: StepExplainer

    public init(policy: Policy) {
        self.policy = policy
        compiler = PolicyCompiler(policy)
        resolver = EndpointResolver(policy: policy)
        explainer = StepExplainer(policy: policy)
    }

    /// Traces the first packet of a connection and its answer. `ethertype`
    /// picks the family when neither the endpoints nor the protocol do
    /// (default IPv4 when both ends have an IPv4 address).
    public func trace(from source: EndpointSpec, to destination: EndpointSpec, probe: Probe, ethertype: IPFamily? = nil) throws(TraceError) -> Trace {
        if let problem = probe.problems.first { throw TraceError(problem) }
        let family = try family(source, destination, probe, ethertype)
        let (from, to, unreachable) = try resolve(source, destination, family)
        let packet = packet(from, to, probe)
        var datapaths: [String: HostDatapath] = [:]

        var steps: [TraceStep] = []
        if let unreachable {
            steps = [TraceStep(kind: .path, findings: [Finding(topic: .path, verdict: .dropped, text: unreachable)], verdict: .dropped)]
        } else {
            steps = try walk(packet, from: from, to: to, &datapaths)
        }
        let verdict: Trace.Verdict = steps.allSatisfy { $0.verdict == .allowed } ? .allowed : .dropped
        var reply: Trace.Reply?
        if verdict == .allowed, let answer = packet.reply {
            let replySteps = try walk(answer, from: to, to: from, &datapaths)
            let replyVerdict: Trace.Verdict = replySteps.allSatisfy { $0.verdict == .allowed } ? .allowed : .dropped
            reply = Trace.Reply(packet: answer.summary, steps: replySteps, verdict: replyVerdict, reason: Self.reason(replySteps, replyVerdict))
        }
        return Trace(
            packet: packet.summary, source: info(from), destination: info(to), steps: steps, verdict: verdict,
            reason: Self.reason(steps, verdict), reply: reply)
    }

    // MARK: - the path

    /// The packet from one end to the other over the hosts in between.
    private func walk(_ packet: Packet, from: Endpoint, to: Endpoint, _ datapaths: inout [String: HostDatapath]) throws(TraceError) -> [TraceStep] {
        switch (from.port, to.port) {
        case (let sender?, let receiver?) where sender.host == receiver.host:
            var host = try datapath(sender.host, &datapaths)
            defer { datapaths[sender.host] = host }
            let passage = host.pass(packet, in: sender.device, out: receiver.device, bridge: try bridge(of: sender, host))
            let egress = explainer.egress(of: sender, passage, host, packet)
            guard egress.verdict == .allowed else { return [egress] }
            return [egress, explainer.ingress(of: receiver, passage, host, showConntrack: false)]

        case (let sender?, let receiver?):
            let network = policy.networks.first { $0.name == sender.network }!
            var first = try datapath(sender.host, &datapaths)
            var second = try datapath(receiver.host, &datapaths)
            defer {
                datapaths[sender.host] = first
                datapaths[receiver.host] = second
            }
            guard let outbound = first.segmentDevice(of: network), let inbound = second.segmentDevice(of: network) else {
                let text = "network \(network.name) (\(network.segment)) has no \(Self.carrier(network)) between hosts \(sender.host) and \(receiver.host): frames can't cross"
                return [TraceStep(kind: .path, findings: [Finding(topic: .path, verdict: .dropped, text: text)], verdict: .dropped)]
            }
            let out = first.pass(packet, in: sender.device, out: outbound.device, bridge: try bridge(of: sender, first))
            var steps = [explainer.egress(of: sender, out, first, packet)]
            guard steps[0].verdict == .allowed else { return steps }
            if let drop = explainer.unexpectedStep(.path, port: nil, out) { return steps + [drop] }
            let arrival = second.pass(packet, in: inbound.device, out: receiver.device, bridge: try bridge(of: receiver, second), vlan: inbound.vlan)
            steps.append(explainer.ingress(of: receiver, arrival, second, showConntrack: true))
            return steps

        case (let sender?, nil):
            let network = policy.networks.first { $0.name == sender.network }!
            var host = try datapath(sender.host, &datapaths)
            defer { datapaths[sender.host] = host }
            let exit = host.segmentDevice(of: network)?.device ?? Self.outside
            let passage = host.pass(packet, in: sender.device, out: exit, bridge: try bridge(of: sender, host))
            var steps = [explainer.egress(of: sender, passage, host, packet)]
            guard steps[0].verdict == .allowed else { return steps }
            if let drop = explainer.unexpectedStep(.path, port: nil, passage) { return steps + [drop] }
            steps.append(TraceStep(kind: .path, findings: [Finding(topic: .path, text: "\(packet.destination) is outside the policy: no port's ingress rules apply")], verdict: .allowed))
            return steps

        case (nil, let receiver?):
            let network = policy.networks.first { $0.name == receiver.network }!
            var host = try datapath(receiver.host, &datapaths)
            defer { datapaths[receiver.host] = host }
            let entry = host.segmentDevice(of: network)
            let passage = host.pass(
                packet, in: entry?.device ?? Self.outside, out: receiver.device, bridge: try bridge(of: receiver, host), vlan: entry?.vlan)
            let arrival = TraceStep(
                kind: .path, findings: [Finding(topic: .path, text: "\(packet.source) is outside the policy: no port's egress rules or port security apply")],
                verdict: .allowed)
            return [arrival, explainer.ingress(of: receiver, passage, host, showConntrack: true)]

        case (nil, nil):
            throw TraceError("neither end is a port of the policy")
        }
    }

    /// The device name a frame from outside the policy arrives by, or
    /// leaves by, when the host has no uplink or tunnel for its network
    /// (through a port without port security, say): one no rule names.
    static let outside = "(outside)"

    static func carrier(_ network: Network) -> String {
        if case .vlan = network.segment { "VLAN trunk (a host without an uplink)" } else { "VXLAN tunnel" }
    }

    private func datapath(_ host: String, _ datapaths: inout [String: HostDatapath]) throws(TraceError) -> HostDatapath {
        if let known = datapaths[host] { return known }
        do {
            let compiled = HostDatapath(compilation: try compiler.compileExplained(host: host))
            datapaths[host] = compiled
            return compiled
        } catch {
            throw TraceError("can't compile host \(host): \(error.message)")
        }
    }

    private func bridge(of port: Port, _ host: HostDatapath) throws(TraceError) -> String {
        guard let bridge = host.bridge(of: port.device) else { throw TraceError("port \(port.name) has no bridge on host \(port.host)") }
        return bridge
    }

    // MARK: - endpoints and the packet

    private func family(_ source: EndpointSpec, _ destination: EndpointSpec, _ probe: Probe, _ ethertype: IPFamily?) throws(TraceError) -> IPFamily {
        var claims: [(String, IPFamily)] = []
        if let address = source.givenAddress { claims.append(("source \(address)", address.family)) }
        if let address = destination.givenAddress { claims.append(("destination \(address)", address.family)) }
        if let family = probe.impliedFamily { claims.append(("protocol \(probe.proto)", family)) }
        if let ethertype { claims.append(("--ethertype \(ethertype.rawValue)", ethertype)) }
        if let (first, family) = claims.first, let (other, _) = claims.first(where: { $0.1 != family }) {
            throw TraceError("\(first) is \(Self.name(family)) but \(other) is \(Self.name(family == .ipv4 ? .ipv6 : .ipv4))")
        }
        if let family = claims.first?.1 { return family }
        // Both ends are ports by name: IPv4 when both have an IPv4 address.
        let ports = [source, destination].compactMap { if case .port(let name, _) = $0 { policy.ports.first { $0.name == name } } else { nil } }
        return ports.allSatisfy { $0.ips.contains { $0.family == .ipv4 } } ? .ipv4 : .ipv6
    }

    static func name(_ family: IPFamily) -> String { family == .ipv4 ? "IPv4" : "IPv6" }

    /// Both ends; and when the destination can't be reached at all, why.
    private func resolve(_ source: EndpointSpec, _ destination: EndpointSpec, _ family: IPFamily) throws(TraceError) -> (Endpoint, Endpoint, String?) {
        switch (source, destination) {
        case (.port(let name, let address), _):
            let from = try resolver.resolvePort(name, address: address, family: family, role: "source")
            let (to, unreachable) = try resolveDestination(destination, from: from, family)
            return (from, to, unreachable)
        case (.address(let address), .port(let name, let toAddress)):
            let to = try resolver.resolvePort(name, address: toAddress, family: family, role: "destination")
            let from = try resolver.resolveSource(address, destinationNetwork: to.port?.network)
            if let sender = from.port, let receiver = to.port, sender.network != receiver.network {
                return (from, to, Self.isolation(sender, receiver))
            }
            return (from, to, nil)
        case (.address(let address), .address(let toAddress)):
            let from = try resolver.resolveSource(address, destinationNetwork: nil)
            if from.port != nil {
                let (to, unreachable) = try resolveDestination(destination, from: from, family)
                return (from, to, unreachable)
            }
            let to = try resolver.resolveSource(toAddress, destinationNetwork: nil)
            guard to.port != nil else {
                throw TraceError("neither \(address) nor \(toAddress) belongs to a port of the policy: a trace needs a port at one end at least")
            }
            return (from, to, nil)
        }
    }

    /// The destination seen from a port: a port of its network that has the
    /// address, else something outside the policy, or nothing at all.
    private func resolveDestination(_ spec: EndpointSpec, from: Endpoint, _ family: IPFamily) throws(TraceError) -> (Endpoint, String?) {
        let sender = from.port!
        switch spec {
        case .port(let name, let address):
            let to = try resolver.resolvePort(name, address: address, family: family, role: "destination")
            return (to, to.port!.network == sender.network ? nil : Self.isolation(sender, to.port!))
        case .address(let address):
            if let receiver = resolver.owners(of: address, on: sender.network).first(where: { $0.name != sender.name }) {
                return (Endpoint(port: receiver, address: address, mac: resolver.mac(of: receiver, for: address)), nil)
            }
            let outsider = Endpoint(port: nil, address: address, mac: nil)
            let network = policy.networks.first { $0.name == sender.network }!
            let answerers = policy.ports.filter { $0.network == network.name && $0.name != sender.name && !$0.portSecurity }
            guard case .vxlan = network.segment, answerers.isEmpty else { return (outsider, nil) }
            // A VXLAN network joins only the policy's ports, and a port with
            // port security may answer only from its own addresses.
            var why = "no port of network \(network.name) has \(address) (as an IP or in an address pair), and every other port of it has port security, so none may answer from it"
            if let elsewhere = resolver.owners(of: address).first(where: { $0.network != network.name }) {
                why = "\(address) is port \(elsewhere.name)'s, on network \(elsewhere.network); port \(sender.name) is on network \(network.name), and networks are isolated at L2; " + why
            }
            return (outsider, why)
        }
    }

    static func isolation(_ sender: Port, _ receiver: Port) -> String {
        "port \(sender.name) is on network \(sender.network) and port \(receiver.name) on network \(receiver.network): networks are isolated at L2, no frame crosses"
    }

    private func packet(_ from: Endpoint, _ to: Endpoint, _ probe: Probe) -> Packet {
        let proto = probe.proto.number ?? Probe.anyProtocolStandIn
        var packet = Packet(
            sourceMAC: from.mac, destinationMAC: to.mac, source: from.address, destination: to.address, proto: proto)
        if probe.proto.hasPorts {
            packet.sourcePort = probe.sourcePort ?? Probe.defaultSourcePort
            packet.destinationPort = probe.destinationPort
        }
        if probe.proto.isICMP {
            packet.icmpType = probe.icmpType ?? (probe.proto == .icmp ? 8 : 128)
            packet.icmpCode = probe.icmpCode ?? 0
        }
        return packet
    }

    private func info(_ endpoint: Endpoint) -> EndpointInfo {
        guard let port = endpoint.port else { return EndpointInfo(address: "\(endpoint.address)") }
        let stateful = port.securityGroups.allSatisfy { name in policy.securityGroups.first { $0.name == name }?.stateful ?? true }
        return EndpointInfo(
            port: port.name, host: port.host, device: port.device, network: port.network, address: "\(endpoint.address)",
            securityGroups: port.securityGroups, portSecurity: port.portSecurity, stateful: port.portSecurity ? stateful : nil)
    }

    /// The verdict in a line: the first thing that dropped the packet, or
    /// the rules that allowed it.
    static func reason(_ steps: [TraceStep], _ verdict: Trace.Verdict) -> String {
        if verdict == .dropped {
            for step in steps {
                if let finding = step.findings.first(where: { $0.verdict == .dropped }) {
                    return step.kind == .path ? finding.text : "\(step.title): \(finding.text)"
                }
            }
        }
        let decisions = steps.compactMap { step in
            step.findings.last { $0.topic == .rules }.map { "\(step.kind.rawValue) \($0.text)" }
        }
        return decisions.isEmpty ? "nothing on the path filters it" : decisions.joined(separator: "; ")
    }
}
