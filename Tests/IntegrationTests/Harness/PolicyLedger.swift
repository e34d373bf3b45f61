import Foundation
import PolicyModel

/// Which policy each host of a scenario enforces, as far as the harness can
/// know it: the last one `sgctl apply` applied there, the last valid one
/// handed to the host's `sgd` (a file written, or published to etcd), which
/// the scenario waits for before it sends packets. Trace needs it to say
/// what a check's packets should do.
///
/// A policy that doesn't decode is never recorded: sgctl refuses it and sgd
/// keeps its last good state, so the host's policy stays what it was.
final class PolicyLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var policies: [String: Policy] = [:]

    /// Records `json` as the policy of `hosts` if it is a valid policy.
    func enforce(_ json: String, on hosts: [String]) {
        guard case .success(let policy) = PolicyDecoder.decode(json: json) else { return }
        lock.withLock { for host in hosts { policies[host] = policy } }
    }

    /// Records it for every host the policy names (a publish to etcd).
    func enforceEverywhere(_ json: String) {
        guard case .success(let policy) = PolicyDecoder.decode(json: json) else { return }
        lock.withLock { for host in policy.hosts { policies[host.name] = policy } }
    }

    func policy(on host: String) -> Policy? { lock.withLock { policies[host] } }
}
