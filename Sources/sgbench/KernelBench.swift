import Foundation
import HostModel
import Netlink
import PolicyCompiler
import PolicyModel

/// Kernel figures for the busiest host of the cloud, in a throwaway network
/// namespace (root only): the first full load over netlink beside the same
/// ruleset loaded by `nft -f` (the baseline), the read-back, a no-change
/// plan, and the change latency (read + diff + one batch) of a VM appearing,
/// a VM going away and a group membership removed. Links are left out: the
/// ports' devices don't exist here, and the nftables side is what grows.
struct KernelBench {
    let policy: Policy
    let compiler: PolicyCompiler
    let record: (Measurement) -> Void

    func run() throws {
        let host = busiestHost()
        let full = try compiler.compile(host: host)
        let ports = policy.ports.enumerated().filter { $0.element.host == host }
        guard let (vmIndex, _) = ports.last, let (memberIndex, member) = ports.first(where: { $0.element.securityGroups.count >= 2 }) ?? ports.first
        else { throw BenchError("host \(host) has no ports") }

        var withoutVM = policy
        withoutVM.ports.remove(at: vmIndex)
        let before = try PolicyCompiler(withoutVM).compile(host: host)
        var fewerGroups = policy
        fewerGroups.ports[memberIndex].securityGroups = Array(member.securityGroups.dropLast())
        let narrowed = try PolicyCompiler(fewerGroups).compile(host: host)

        let elements = full.tables.values.reduce(0) { $0 + $1.sets.values.reduce(0) { $0 + $1.elements.count } }
        let rules = full.tables.values.reduce(0) { $0 + $1.chains.values.reduce(0) { $0 + $1.rules.count } }
        let note = "host \(host): \(rules) rules, \(elements) set elements"

        let text = NFTRenderer.ruleset(before.tables.values)
        let baseline = try Namespace("sgbench-text")
        let (_, nftTime) = try timed { try baseline.nft(stdin: text) }

        let ns = try Namespace("sgbench-nl")
        try NetworkNamespace.run(path: NetworkNamespace.path(named: ns.name)) {
            let nft = try NFTConnection()
            let (_, loadTime) = try timed { try nft.apply(diff(HostState(), before).nft) }
            record(.time("kernel: first load, netlink batch", loadTime, note: note))
            record(.time("kernel: first load, nft -f (baseline)", nftTime, note: "same ruleset, includes starting nft"))

            let (_, readTime) = try timed { try nft.read(tables) }
            record(.time("kernel: read back both tables", readTime, note: note))
            let (noChange, planTime) = try timed { try change(nft, to: before, apply: false) }
            guard noChange == 0 else { throw BenchError("a plan right after the load wants \(noChange) operations") }
            record(.time("kernel: plan, no change (read + diff)", planTime))

            for (label, target) in [("VM added", full), ("VM removed", before), ("VM added again", full), ("group membership removed", narrowed)] {
                let (operations, time) = try timed { try change(nft, to: target, apply: true) }
                record(.time("kernel: \(label) (read + diff + batch)", time, note: "\(operations) operations"))
            }
        }
    }

    private var tables: [NFTTableID] { [NFTTableID(.bridge, Naming.table), NFTTableID(.inet, Naming.table)] }

    /// Reads, diffs against `target` and (if asked) applies; returns the
    /// number of operations.
    private func change(_ nft: NFTConnection, to target: HostState, apply: Bool) throws -> Int {
        let current = try nft.read(tables)
        let delta = diff(HostState(tables: current), HostState(tables: Array(target.tables.values)))
        if apply { try nft.apply(delta.nft, definitions: NFTConnection.definitions(of: current)) }
        return delta.operationCount
    }

    private func busiestHost() -> String {
        var count: [String: Int] = [:]
        for port in policy.ports { count[port.host, default: 0] += 1 }
        return count.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? policy.hosts[0].name
    }
}
