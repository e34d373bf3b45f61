import Foundation
import PolicyModel
import PolicyTrace
import Testing

/// Every reachability check is also traced (PolicyTrace, in this process,
/// against the policy the sender's host enforces), and trace's round trip
/// verdict must agree with what the real packets did. A check is left out
/// only when its call site says why (`Check.untraced`), or when its probe
/// could not run at all; anything else the harness can't trace is an issue.
enum TraceAgreement {
    enum Outcome {
        case agreed
        case disagreed(String)
        case excluded(String)
    }

    static func compare(_ check: Check, packetsPassed: Bool?, ledger: PolicyLedger) -> Outcome {
        if let reason = check.untracedReason { return .excluded(reason) }
        guard let packetsPassed else { return .excluded("the probe could not run or gave no answer") }
        let trace: Trace
        do {
            trace = try self.trace(check, ledger)
        } catch {
            return .disagreed("can't trace \(check.description): \(error) (mark the check .untraced(\"why\") if the policy can't describe it)")
        }
        guard trace.roundTripAllowed != packetsPassed else { return .agreed }
        return .disagreed("""
            trace disagrees with the packets: \(check.description); the packets \(packetsPassed ? "passed" : "did not pass"), \
            trace says the round trip is \(trace.roundTripAllowed ? "allowed" : "dropped"):
            \(TraceText.render(trace))
            """)
    }

    /// The same for ExampleTests' probes between two ports of an example,
    /// whose clients send from `clientPort`. The destination is the port
    /// itself, not its address: probes across networks address the
    /// receiver's MAC directly, and identical subnets may give the address
    /// to a port of the sender's own network too.
    static func compare(example check: Example.Check, clientPort: Int, packetsPassed: Bool, ledger: PolicyLedger) -> Outcome {
        let trace: Trace
        do {
            guard let policy = ledger.policy(on: check.from.host) else {
                throw TraceError("the harness knows no policy enforced on host \(check.from.host)")
            }
            let family: IPFamily = check.probe.family == .ipv4 ? .ipv4 : .ipv6
            let probe: Probe
            switch check.probe.kind {
            case .echo: probe = .ping(family)
            case .tcp(let port): probe = .tcp(UInt16(port), from: UInt16(clientPort))
            case .udp(let port): probe = .udp(UInt16(port), from: UInt16(clientPort))
            }
            trace = try Tracer(policy: policy).trace(from: .port(check.from.name), to: .port(check.to.name), probe: probe, ethertype: family)
            if check.to.host != check.from.host, ledger.policy(on: check.to.host) != policy {
                throw TraceError("hosts \(check.from.host) and \(check.to.host) enforce different policies")
            }
        } catch {
            return .disagreed("can't trace \(check): \(error)")
        }
        guard trace.roundTripAllowed != packetsPassed else { return .agreed }
        return .disagreed("""
            trace disagrees with the packets: \(check); the packets \(packetsPassed ? "passed" : "did not pass"), \
            trace says the round trip is \(trace.roundTripAllowed ? "allowed" : "dropped"):
            \(TraceText.render(trace))
            """)
    }

    private static func trace(_ check: Check, _ ledger: PolicyLedger) throws -> Trace {
        let vm = check.from
        guard let policy = ledger.policy(on: vm.host.name) else {
            throw TraceError("the harness knows no policy enforced on host \(vm.host.name)")
        }
        guard let destination = IPAddress(check.address) else { throw TraceError("\(check.address) is not an address") }
        var sourceAddress: IPAddress?
        let probe: Probe
        switch check.traffic {
        case .ping:
            probe = .ping(destination.family)
        case .pingFrom(let source):
            sourceAddress = IPAddress(source)
            probe = .ping(destination.family)
        case .tcp(let port, let sourcePort):
            probe = .tcp(UInt16(port), from: sourcePort.map(UInt16.init))
        case .udp(let port, let sourcePort):
            probe = .udp(UInt16(port), from: sourcePort.map(UInt16.init))
        }
        let trace = try Tracer(policy: policy).trace(from: .port(vm.name, address: sourceAddress), to: .address(destination), probe: probe)
        // Both ends' hosts must enforce the policy traced.
        if let host = trace.destination.host, host != vm.host.name, ledger.policy(on: host) != policy {
            throw TraceError("hosts \(vm.host.name) and \(host) enforce different policies")
        }
        return trace
    }
}

/// How many checks were traced and compared, over the whole test run.
actor TraceTally {
    static let shared = TraceTally()

    private var compared = 0
    private var excluded: [String: Int] = [:]

    /// Adds one `expect` call's outcomes and returns the line that reports them.
    func add(_ tag: String, compared newlyCompared: Int, excluded newlyExcluded: [String]) -> String {
        compared += newlyCompared
        for reason in newlyExcluded { excluded[reason, default: 0] += 1 }
        let excludedTotal = excluded.values.reduce(0, +)
        var line = "trace agreement [\(tag)]: \(newlyCompared) checks compared with trace, \(newlyExcluded.count) excluded"
        line += "; run so far: \(compared) compared, \(excludedTotal) excluded"
        if !newlyExcluded.isEmpty { line += " (\(newlyExcluded.joined(separator: "; ")))" }
        return line
    }
}
