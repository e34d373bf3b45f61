import Foundation
import HostModel
import Netlink
import PolicyCompiler
import PolicyModel
import SyntheticCloud

/// "Host kernel apply": one host with `ports` ports, and the cost of one
/// port's change reaching its kernel, side by side:
///
/// * ours: the netlink batch of `diff(current, desired)` of the compiled
///   states (the headline), and the same with the read-back and diff that
///   `sgctl apply` does first;
/// * `nft -f` of the whole ruleset (both tables deleted and recreated in one
///   transaction), what a tool without a diff does;
/// * `iptables-restore` of the equivalent Neutron ruleset (`NeutronRuleset`),
///   how Neutron's iptables manager applies any change: re-render, restore
///   the whole table. Per backend (legacy, nft).
///
/// Each variant has its own throwaway namespace, starts from the same state
/// and walks the same changes; variants take turns within every change and
/// the order rotates, so noise on a shared machine hits all of them.
struct HostApplyBench {
    let ports: Int
    let runs: Int
    let backends: [IPTablesBackend]

    struct Row: Codable {
        var change: String
        var variant: String
        var medianMs: Double
        var p99Ms: Double
        var maxMs: Double
        var samples: Int
        /// How many times slower than ours (the batch) at the median.
        var ratioToOurs: Double?
        var note: String?
    }

    /// A state every variant can be brought to: compiled, rendered as nft
    /// text, and as Neutron's iptables ruleset.
    struct Target {
        var state: HostState
        var nftFile: String
        var iptablesFile: String
    }

    /// One port's change, from one target to another.
    struct Change {
        var name: String
        var from: Int
        var to: Int
    }

    func run() throws -> KernelReport<Row> {
        let shape = CloudShape(hosts: 1, ports: ports, groups: max(10, ports / 10), networks: max(2, ports / 50))
        print("host kernel apply: \(shape)")
        let policy = SyntheticCloud.generate(shape)
        let host = policy.hosts[0].name
        guard let (index, port) = policy.ports.enumerated().last(where: {
            $0.element.portSecurity && $0.element.securityGroups.count >= 2 && $0.element.ips.contains { $0.family == .ipv4 }
        }) else { throw BenchError("no port with two groups and an IPv4 address") }

        var withoutPort = policy
        withoutPort.ports.remove(at: index)
        var fewerGroups = policy
        fewerGroups.ports[index].securityGroups.removeLast()
        let policies = [policy, withoutPort, fewerGroups]

        let work = try FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask,
            appropriateFor: URL(fileURLWithPath: "/tmp"), create: true)
        defer { try? FileManager.default.removeItem(at: work) }
        var targets: [Target] = []
        var neutronRules = 0
        for (n, p) in policies.enumerated() {
            let state = try PolicyCompiler(p).compile(host: host)
            let neutron = NeutronRuleset(policy: p, host: host)
            neutronRules = max(neutronRules, neutron.ruleCount)
            let nftFile = work.appendingPathComponent("state\(n).nft").path
            let iptablesFile = work.appendingPathComponent("state\(n).iptables").path
            try NFTRenderer.ruleset(state.tables.values).write(toFile: nftFile, atomically: true, encoding: .utf8)
            try neutron.iptables.write(toFile: iptablesFile, atomically: true, encoding: .utf8)
            targets.append(Target(state: state, nftFile: nftFile, iptablesFile: iptablesFile))
        }
        // The ipsets of every state (their members don't matter to
        // iptables-restore; Neutron changes them with separate ipset calls).
        let ipsets = NeutronRuleset.ipsetUnion(policies)

        let size = targets[0].state.nftSize
        let changes = [
            Change(name: "port removed", from: 0, to: 1), Change(name: "port added", from: 1, to: 0),
            Change(name: "group membership removed", from: 0, to: 2), Change(name: "group membership added", from: 2, to: 0),
        ]
        print("  port \(port.name) (\(port.device)) changes; ours: \(size.rules) rules, \(size.elements) set elements; Neutron: \(neutronRules) iptables rules (IPv4)")

        // Variants, each in its own namespace, all loaded with state 0.
        var variants: [any ApplyVariant] = [
            try OursNetlink(namespace: try Namespace("apply-ours"), targets: targets, readsBack: false),
            try OursNetlink(namespace: try Namespace("apply-read"), targets: targets, readsBack: true),
            NFTReload(namespace: try Namespace("apply-nft"), targets: targets),
        ]
        for backend in backends {
            variants.append(try IPTablesRestore(namespace: try Namespace("apply-ipt\(backend.rawValue)"), backend: backend, targets: targets, ipsets: ipsets))
        }
        let spawn = SpawnFloor(namespace: try Namespace("apply-spawn"))
        for variant in variants { try variant.load(0) }

        var samples = [[Samples]](repeating: [Samples](repeating: Samples(), count: variants.count), count: changes.count)
        var spawnSamples = Samples()
        var operations = [Int](repeating: 0, count: changes.count)
        var diffTimes = [Samples](repeating: Samples(), count: changes.count)
        for run in 0..<runs {
            Idle.note()
            for (c, change) in changes.enumerated() {
                let (delta, diffTime) = timed { diff(targets[change.from].state, targets[change.to].state) }
                operations[c] = delta.operationCount
                diffTimes[c].add(diffTime)
                for k in 0..<variants.count {
                    let v = (k + run + c) % variants.count
                    samples[c][v].add(try variants[v].change(change))
                }
                spawnSamples.add(try spawn.measure())
            }
        }

        var rows: [Row] = []
        var checks: [TargetCheck] = []
        for (c, change) in changes.enumerated() {
            let ours = samples[c][0].median
            for (v, variant) in variants.enumerated() {
                let s = samples[c][v]
                let note = v == 0 ? "\(operations[c]) operations; diff of the compiled states \(Figure.ms(diffTimes[c].median)) ms" : variant.note
                rows.append(Row(change: change.name, variant: variant.name, medianMs: s.median, p99Ms: s.p99, maxMs: s.max,
                    samples: s.count, ratioToOurs: v == 0 ? nil : s.median / ours, note: note))
            }
            let reload = samples[c][2].median / ours
            checks.append(TargetCheck(target: "\(change.name): ours ≥ 100× faster than the full nft reload",
                measured: Figure.ratio(reload), met: reload >= 100))
        }
        rows.append(Row(change: "reference", variant: "spawning /bin/true in the namespace", medianMs: spawnSamples.median,
            p99Ms: spawnSamples.p99, maxMs: spawnSamples.max, samples: spawnSamples.count, ratioToOurs: nil,
            note: "the floor under any command-line tool"))

        var table = Table("change", "variant", "median ms", "p99 ms", "max ms", "× ours", "note")
        for row in rows {
            table.add([row.change, row.variant, Figure.ms(row.medianMs), Figure.ms(row.p99Ms), Figure.ms(row.maxMs),
                row.ratioToOurs.map(Figure.ratio) ?? "", row.note ?? ""])
        }
        print("\nHost kernel apply: one port's change on a host with \(Format.grouped(ports)) ports (\(runs) runs each)\n" + table.render())
        var targetTable = Table("target", "measured", "result")
        for check in checks { targetTable.add(check.row) }
        print("\n" + targetTable.render())

        return KernelReport(benchmark: "host-kernel-apply", parameters: [
            "ports": String(ports), "runs": String(runs), "shape": shape.description,
            "iptables": backends.map(\.command).joined(separator: ","),
            "ours": "\(size.rules) nft rules, \(size.chains) chains, \(size.elements) set elements",
            "neutron": "\(neutronRules) iptables rules (IPv4 only), \(NeutronRuleset.setNames(policy).count) ipsets",
            "qemu-system seen during the run": Idle.seenText,
        ], rows: rows, targets: checks)
    }
}

extension HostState {
    var nftSize: (rules: Int, chains: Int, elements: Int) {
        var size = (rules: 0, chains: 0, elements: 0)
        for table in tables.values {
            size.chains += table.chains.count
            for chain in table.chains.values { size.rules += chain.rules.count }
            for set in table.sets.values { size.elements += set.elements.count }
        }
        return size
    }
}

extension NeutronRuleset {
    /// The ipsets of several policies together: `create` once per set, every member.
    static func ipsetUnion(_ policies: [Policy]) -> String {
        var lines: [String] = []
        var seen = Set<String>()
        for policy in policies {
            for line in ipsets(policy, setNames: setNames(policy)).split(separator: "\n") where seen.insert(String(line)).inserted {
                lines.append(String(line))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

// MARK: - Variants

/// One way of bringing a host's kernel from one target state to another.
protocol ApplyVariant {
    var name: String { get }
    var note: String? { get }
    /// Loads target `index` from an empty namespace (not timed).
    func load(_ index: Int) throws
    /// Makes the change and returns how long it took.
    func change(_ change: HostApplyBench.Change) throws -> Duration
}

/// Ours, over a netlink socket opened once in the namespace (as the daemon
/// keeps one): either just the batch of the delta between the compiled
/// states, or as `sgctl apply` does it without links: read both tables
/// back, diff against the desired state, one batch.
final class OursNetlink: ApplyVariant {
    let namespace: Namespace
    let targets: [HostApplyBench.Target]
    let nft: NFTConnection
    let readsBack: Bool
    var name: String { readsBack ? "ours: read back + diff + batch" : "ours: netlink batch of the delta" }
    var note: String? { readsBack ? "what sgctl apply does (minus compile and links)" : nil }

    init(namespace: Namespace, targets: [HostApplyBench.Target], readsBack: Bool) throws {
        self.namespace = namespace
        self.targets = targets
        self.readsBack = readsBack
        nft = try NetworkNamespace.run(path: namespace.path) { try NFTConnection() }
    }

    func load(_ index: Int) throws { try nft.apply(diff(HostState(), targets[index].state).nft) }

    func change(_ change: HostApplyBench.Change) throws -> Duration {
        let desired = targets[change.to].state
        guard readsBack else {
            let from = targets[change.from].state
            let delta = diff(from, desired)
            let definitions = NFTConnection.definitions(of: Array(from.tables.values))
            return try timed { try nft.apply(delta.nft, definitions: definitions) }.1
        }
        let ids = Array(desired.tables.keys)
        return try timed {
            let current = try nft.read(ids)
            let delta = diff(HostState(tables: current), HostState(tables: Array(desired.tables.values)))
            try nft.apply(delta.nft, definitions: NFTConnection.definitions(of: current))
        }.1
    }
}

/// The whole ruleset through `nft -f FILE`: both tables deleted and
/// recreated in one transaction (the file starts with `table ...; delete
/// table ...`), as a tool that re-renders everything would.
struct NFTReload: ApplyVariant {
    let namespace: Namespace
    let targets: [HostApplyBench.Target]
    var name: String { "nft -f, whole ruleset" }
    var note: String? { "delete + recreate both tables, one transaction" }

    func load(_ index: Int) throws { try namespace.spawn(["nft", "-f", targets[index].nftFile]) }

    func change(_ change: HostApplyBench.Change) throws -> Duration {
        try timed { try load(change.to) }.1
    }
}

enum IPTablesBackend: String, CaseIterable {
    case legacy, nft
    var command: String { "iptables-\(rawValue)" }
}

/// Neutron's way: `iptables-restore` of the whole raw and filter tables.
/// The ipsets are created once beforehand (members are Neutron's separate
/// `ipset` calls, not timed here), and Neutron's `iptables-save` before
/// each restore is not counted either: both favour the baseline.
struct IPTablesRestore: ApplyVariant {
    let namespace: Namespace
    let backend: IPTablesBackend
    let targets: [HostApplyBench.Target]
    let ipsets: String

    init(namespace: Namespace, backend: IPTablesBackend, targets: [HostApplyBench.Target], ipsets: String) throws {
        self.namespace = namespace
        self.backend = backend
        self.targets = targets
        self.ipsets = ipsets
        try namespace.run(["ipset", "restore", "-exist"], stdin: ipsets)
    }

    var name: String { "\(backend.command)-restore, Neutron ruleset" }
    var note: String? { "whole raw + filter tables, as Neutron's iptables manager applies" }

    func load(_ index: Int) throws { try namespace.spawn(["\(backend.command)-restore", targets[index].iptablesFile]) }

    func change(_ change: HostApplyBench.Change) throws -> Duration {
        try timed { try load(change.to) }.1
    }
}

/// How long starting a trivial process takes here: no command-line tool
/// can apply anything faster.
struct SpawnFloor {
    let namespace: Namespace
    func measure() throws -> Duration { try timed { try namespace.spawn(["true"]) }.1 }
}
