import HostModel
import PolicyCompiler
import PolicyModel
import PropertyBased
import SyntheticCloud
import Testing

/// The diff laws on random policies and random changes:
/// `diff(a, a)` is empty, applying `diff(a, b)` to `a` gives `b`, and the
/// diff is empty exactly when the states are equal.
@Suite struct DiffPropertyTests {
    @Test func diffLawsHoldForRandomChanges() async {
        await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...4)) { seed, changes in
            let old = SyntheticCloud.generate(.small(seed: UInt64(seed)))
            var rng = SplitMix64(seed: UInt64(seed) &* 31 &+ 7)
            var new = old
            for _ in 0..<changes { PolicyMutator.mutate(&new, using: &rng) }
            guard case .success = PolicyDecoder.decode(PolicyEncoder.encode(new)) else { return }  // only valid policies
            let before = PolicyCompiler(old)
            let after = PolicyCompiler(new)
            for host in Set(old.hosts.map(\.name)).union(new.hosts.map(\.name)).sorted() {
              do {
                let a = (try? before.compile(host: host)) ?? HostState()
                let b = (try? after.compile(host: host)) ?? HostState()
                #expect(diff(a, a).isEmpty)
                let delta = diff(a, b)
                #expect(delta.isEmpty == (a == b))
                #expect(try a.applying(delta) == b, "host \(host), seed \(seed)")
                // And from nothing (a first apply) and back to nothing (a host leaving).
                #expect(try HostState().applying(diff(HostState(), b)) == b)
                #expect(try b.applying(diff(b, HostState())) == HostState())
              } catch {
                Issue.record("host \(host), seed \(seed): \(error)")
              }
            }
        }
    }

    /// The law test skips changes that make a policy invalid; make sure that
    /// is the exception, or the law test would prove little.
    @Test func mostRandomChangesKeepThePolicyValid() {
        var valid = 0
        for seed in 0..<100 {
            var policy = SyntheticCloud.generate(.small(seed: UInt64(seed)))
            var rng = SplitMix64(seed: UInt64(seed) &* 31 &+ 7)
            PolicyMutator.mutate(&policy, using: &rng)
            if case .success = PolicyDecoder.decode(PolicyEncoder.encode(policy)) { valid += 1 }
        }
        #expect(valid >= 70, "only \(valid) of 100 mutated policies were valid")
    }

    @Test func compilationIsDeterministic() async {
        await propertyCheck(count: 20, input: Gen.int(in: 0...1_000_000)) { seed in
            let policy = SyntheticCloud.generate(.small(seed: UInt64(seed)))
            for host in policy.hosts.map(\.name) {
                #expect((try? PolicyCompiler(policy).compile(host: host)) == (try? PolicyCompiler(policy).compile(host: host)))
            }
        }
    }
}

/// Random, mostly valid edits of a policy: the kinds of change a cloud makes.
enum PolicyMutator {
    static func mutate(_ policy: inout Policy, using rng: inout SplitMix64) {
        guard !policy.ports.isEmpty, !policy.securityGroups.isEmpty else { return }
        let p = rng.below(policy.ports.count)
        let g = rng.below(policy.securityGroups.count)
        switch rng.below(9) {
        case 0:  // a VM boots: a new port like an existing one, on some host
            var port = policy.ports[p]
            let n = policy.ports.count + rng.below(1_000_000)
            port.name = "new\(n)"
            port.device = "tapn\(n % 100_000)"
            port.host = rng.pick(policy.hosts).name
            port.mac = MACAddress(rawValue: 0x0266_0000_0000 | UInt64(n))
            port.ips = []
            port.allowedAddressPairs = [AddressPair(ip: IPPrefix(host: .v4(IPv4Address(rawValue: 0x6440_0000 | UInt32(n & 0xffff)))))]
            policy.ports.append(port)
        case 1:  // a VM goes away
            policy.ports.remove(at: p)
        case 2:  // a port joins or leaves groups of its kind
            let port = policy.ports[p]
            guard port.portSecurity else { return }
            let stateful = port.securityGroups.first.map { name in policy.securityGroups.first { $0.name == name }?.stateful ?? true } ?? true
            let candidates = policy.securityGroups.filter { $0.stateful == stateful }.map(\.name)
            policy.ports[p].securityGroups = Array(Set((0..<rng.below(3)).map { _ in rng.pick(candidates) })).sorted()
        case 3:  // a group loses a rule
            if !policy.securityGroups[g].rules.isEmpty {
                policy.securityGroups[g].rules.remove(at: rng.below(policy.securityGroups[g].rules.count))
            }
        case 4:  // a group gains a remote-group rule
            let remote = rng.pick(policy.securityGroups).name
            policy.securityGroups[g].rules.append(Rule(
                direction: rng.chance(50) ? .ingress : .egress, proto: .tcp, ports: [PortRange(UInt16(1 + rng.below(60000)))],
                remote: .group(remote)))
        case 5:  // a rule's ports change
            if !policy.securityGroups[g].rules.isEmpty {
                let r = rng.below(policy.securityGroups[g].rules.count)
                if policy.securityGroups[g].rules[r].proto.hasPorts {
                    policy.securityGroups[g].rules[r].ports = [PortRange(UInt16(1 + rng.below(1000)), 2000)]
                }
            }
        case 6:  // a VM migrates to another host
            policy.ports[p].host = rng.pick(policy.hosts).name
        case 7:  // an address pair is added (a VIP)
            policy.ports[p].allowedAddressPairs.append(AddressPair(ip: IPPrefix(address: .v4(IPv4Address(rawValue: 0x6440_0000 | UInt32(rng.below(4096) * 4))), length: 30)!))
        default:  // a host empties
            let host = rng.pick(policy.hosts).name
            policy.ports.removeAll { $0.host == host }
        }
    }
}
