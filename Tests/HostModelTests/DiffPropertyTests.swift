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
