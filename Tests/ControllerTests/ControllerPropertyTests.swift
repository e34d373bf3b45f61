import Controller
import HostModel
import PolicyCompiler
import PolicyModel
import PropertyBased
import SyntheticCloud
import Testing

/// Exactness: for random policies and random changes, the controller's
/// delta for every host is `diff(compile(old), compile(new))` for that
/// host, and the hosts it returns are exactly those where that diff is not
/// empty.
@Suite struct ControllerPropertyTests {
    /// Compares a controller's result with compiling both policies in full.
    static func expectExact(
        _ result: ChangeResult, _ controller: Controller, from old: Policy, to new: Policy, _ label: String
    ) {
        let before = PolicyCompiler(old)
        let after = PolicyCompiler(new)
        var expectedHosts = Set<String>()
        for host in Set(old.hosts.map(\.name)).union(new.hosts.map(\.name)).sorted() {
            let a = (try? before.compile(host: host)) ?? HostState()
            let b = (try? after.compile(host: host)) ?? HostState()
            let expected = diff(a, b)
            if !expected.isEmpty { expectedHosts.insert(host) }
            #expect((result.deltas[host] ?? HostDelta()) == expected, "\(label): host \(host)")
            #expect(controller.state(of: host) == b, "\(label): host \(host) state")
        }
        #expect(Set(result.hosts) == expectedHosts, "\(label): hosts")
    }

    static func mutated(_ policy: Policy, seed: Int, count: Int) -> Policy? {
        var rng = SplitMix64(seed: UInt64(seed) &* 131 &+ 17)
        var new = policy
        for _ in 0..<count { PolicyMutator.mutate(&new, using: &rng) }
        guard case .success(let valid) = PolicyDecoder.decode(PolicyEncoder.encode(new)) else { return nil }
        return valid
    }

    @Test func wholeNewPolicyGivesExactlyTheDiffOfTheCompiledStates() async {
        await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...4)) { seed, changes in
            let old = SyntheticCloud.generate(.small(seed: UInt64(seed)))
            guard let new = Self.mutated(old, seed: seed, count: changes) else { return }
            do {
                let controller = try Controller(policy: old)
                let result = controller.update(to: new)
                Self.expectExact(result, controller, from: old, to: new, "seed \(seed)")
            } catch {
                Issue.record("seed \(seed): \(error)")
            }
        }
    }

    @Test func typedChangesGiveTheSameDeltasAsTheWholePolicy() async {
        await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000)) { seed in
            let old = SyntheticCloud.generate(.small(seed: UInt64(seed)))
            guard let new = Self.mutated(old, seed: seed, count: 1) else { return }
            do {
                let controller = try Controller(policy: old)
                let result = try controller.apply(changes(from: old, to: new))
                Self.expectExact(result, controller, from: old, to: new, "seed \(seed)")
            } catch {
                Issue.record("seed \(seed): a valid single change was refused: \(error)")
            }
        }
    }

    /// The controller keeps its states across changes: a long run of changes
    /// on one controller stays exact at every step.
    @Test func aLongRunOfChangesStaysExact() throws {
        for seed in 0..<4 {
            var policy = SyntheticCloud.generate(CloudShape(hosts: 12, ports: 200, groups: 24, networks: 6, seed: UInt64(seed)))
            let controller = try Controller(policy: policy)
            var rng = SplitMix64(seed: UInt64(seed))
            var step = 0
            while step < 25 {
                var next = policy
                PolicyMutator.mutate(&next, using: &rng)
                guard case .success(let valid) = PolicyDecoder.decode(PolicyEncoder.encode(next)) else { continue }
                let result = try controller.apply(changes(from: policy, to: valid))
                Self.expectExact(result, controller, from: policy, to: valid, "seed \(seed) step \(step)")
                policy = valid
                step += 1
            }
        }
    }
}
