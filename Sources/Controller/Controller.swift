import HostModel
import PolicyCompiler
import PolicyModel

/// What one batch of changes does to the hosts: the delta of every host
/// whose desired state changed, and nothing for the others.
public struct ChangeResult: Hashable, Sendable {
    public var deltas: [String: HostDelta]

    public var hosts: [String] { deltas.keys.sorted() }
    public var operationCount: Int { deltas.values.reduce(0) { $0 + $1.operationCount } }
}

/// The incremental controller a cloud control plane embeds: it holds a
/// validated policy and every host's desired state, takes changes, and
/// returns the per-host deltas of exactly the hosts a change affects.
///
/// A change costs what it touches, not the size of the cloud. One port's
/// change is patched into its host's state (`PortPatch`); hosts that only
/// hold the address set of a group whose members changed get those set
/// elements, and hosts with members of a group whose rules alone changed get
/// that group's chains, and nothing else. Everything else that changes a
/// host compiles it again (reusing the group chains and address sets the
/// index keeps for the whole cloud): several port changes on one host, a
/// group's kind or remote groups, a network or host, and the hosts that
/// share a VXLAN network with a host that joined or left it (their tunnels
/// and the tunnel device's entry in the bridge table change).
public final class Controller {
    public private(set) var index: PolicyIndex
    private var states: [String: HostState]

    /// Compiles every host of `policy`, which must be valid (as
    /// `PolicyDecoder` returns it).
    public init(policy: Policy) throws(CompileError) {
        index = PolicyIndex(policy)
        states = [:]
        let compiler = PolicyCompiler(index: index)
        for host in policy.hosts { states[host.name] = try compiler.compile(host: host.name) }
    }

    /// The desired state of a host, as the changes so far left it.
    public func state(of host: String) -> HostState { states[host] ?? HostState() }

    /// Applies the changes in order, each checked against the policy the
    /// previous ones left; if any is invalid, none is applied and the error
    /// names every problem of the first invalid change.
    public func apply(_ changes: [PolicyChange]) throws(PolicyError) -> ChangeResult {
        // The index is changed in place (a copy would cost the size of the
        // cloud) and put back from the old objects if a change is refused.
        var work = Work()
        var undo: [ResolvedChange] = []
        for (number, change) in changes.enumerated() {
            let resolved: ResolvedChange
            do {
                resolved = try ChangeValidator(index: index, number: number).resolve(change)
            } catch {
                for old in undo.reversed() { old.apply(to: &index) }
                throw error
            }
            undo.append(resolved.inverse(in: index))
            work.record(resolved, in: &index)
        }
        return commit(work)
    }

    /// Moves to `policy` (valid as a whole, as `PolicyDecoder` returns it;
    /// the steps between need not be): finds the changes and applies them.
    public func update(to policy: Policy) -> ChangeResult {
        var work = Work()
        for change in changes(from: self.policy, to: policy) {
            // `changes(from:to:)` makes no convenience forms: they always resolve.
            let resolved = ResolvedChange(change, in: index)!
            work.record(resolved, in: &index)
        }
        return commit(work)
    }

    /// The policy as the changes so far left it.
    public var policy: Policy { index.policy }

    // MARK: - from changed objects to host deltas

    /// What a batch of changes affects, gathered as the changes are applied.
    struct Work {
        /// Hosts compiled again.
        var recompile = Set<String>()
        /// Groups named as remote whose members' addresses may have
        /// changed, with their address elements before the batch.
        var addressesBefore: [String: [IPFamily: Set<NFTElement>]] = [:]
        /// Groups whose rules changed and nothing else that matters to
        /// their members' hosts (same kind, same remote groups named).
        var rulesOnly = Set<String>()
        /// Hosts where one port changed in a way a patch can make, with the
        /// patch taken before the change and the port after it.
        var patches: [String: (patch: PortPatch, port: Port?)] = [:]
        private var portChanges: [String: Int] = [:]

        /// Applies one change to `index`, noting what it affects.
        mutating func record(_ change: ResolvedChange, in index: inout PolicyIndex) {
            switch change {
            case .port(let name, let new):
                let old = index.port(name)
                let hosts = Set([old?.host, new?.host].compactMap { $0 })
                for host in hosts { portChanges[host, default: 0] += 1 }
                if let patch = PortPatch(index: index, replacing: old, with: new), portChanges[patch.host] == 1 {
                    patches[patch.host] = (patch, new)
                } else {
                    // A second change on the host, or one a patch can't make.
                    for host in hosts { patches[host] = nil }
                    recompile.formUnion(hosts)
                }
                for port in [old, new].compactMap({ $0 }) {
                    for group in port.securityGroups where index.isReferencedAsRemote(group) && addressesBefore[group] == nil {
                        addressesBefore[group] = index.addressElements(of: group)
                    }
                }
                // The last port of a network leaving a host, or the first
                // arriving, changes the tunnels of the network's other hosts.
                let sameHostAndNetwork = old != nil && old?.host == new?.host && old?.network == new?.network
                if let old, !sameHostAndNetwork, index.portCount(onNetwork: old.network, host: old.host) == 1 {
                    recompileTunnelPeers(of: old.network, in: index)
                }
                change.apply(to: &index)
                if let new, !sameHostAndNetwork, index.portCount(onNetwork: new.network, host: new.host) == 1 {
                    recompileTunnelPeers(of: new.network, in: index)
                }
            case .group(let name, let new):
                if let old = index.group(name), let new, old.stateful == new.stateful, Self.remotes(old) == Self.remotes(new) {
                    rulesOnly.insert(name)
                } else {
                    recompile.formUnion(index.hosts(withMembersOf: name))
                }
                change.apply(to: &index)
            case .network(let name, _):
                recompile.formUnion(index.hosts(onNetwork: name))
                change.apply(to: &index)
            case .host(let name, _):
                // Its VTEP is in the flood entries of the hosts it shares networks with.
                recompile.insert(name)
                for network in Set(index.ports(onHost: name).map(\.network)) { recompileTunnelPeers(of: network, in: index) }
                change.apply(to: &index)
            }
        }

        private static func remotes(_ group: SecurityGroup) -> Set<String> {
            Set(group.rules.compactMap { if case .group(let g) = $0.remote { g } else { nil } })
        }

        private mutating func recompileTunnelPeers(of network: String, in index: PolicyIndex) {
            guard case .vxlan? = index.network(network)?.segment else { return }
            recompile.formUnion(index.hosts(onNetwork: network))
        }
    }

    private func commit(_ work: Work) -> ChangeResult {
        let compiler = PolicyCompiler(index: index)
        let inet = NFTTableID(.inet, Naming.table)
        var deltas: [String: HostDelta] = [:]

        // One port's change on its host, patched into the host's state.
        var recompile = work.recompile
        var patched: [String: HostState] = [:]
        for (host, (patch, port)) in work.patches where !recompile.contains(host) {
            if let state = states[host], let new = patch.apply(to: state, index: index, new: port) {
                patched[host] = new
            } else {
                recompile.insert(host)
            }
        }

        for host in recompile {
            let old = states[host] ?? HostState()
            // A host removed from the policy had no ports left: nothing to compile.
            let new = (try? compiler.compile(host: host)) ?? HostState()
            states[host] = index.host(host) == nil ? nil : new
            let delta = diff(old, new)
            if !delta.isEmpty { deltas[host] = delta }
        }

        // Address sets of groups whose members changed, on hosts not compiled again.
        var elementOps: [String: [(set: String, removed: [NFTElement], added: [NFTElement])]] = [:]
        for (group, old) in work.addressesBefore {
            let new = index.addressElements(of: group)
            var changes: [(set: String, removed: [NFTElement], added: [NFTElement])] = []
            for family in IPFamily.allCases {
                let (a, b) = (old[family] ?? [], new[family] ?? [])
                guard a != b else { continue }
                changes.append((Naming.remoteSet(group, family), a.subtracting(b).sorted(), b.subtracting(a).sorted()))
            }
            guard !changes.isEmpty else { continue }
            for host in index.hosts(referencing: group) where !recompile.contains(host) {
                if patched[host] != nil {
                    for family in IPFamily.allCases {
                        patched[host]!.tables[inet]!.sets[Naming.remoteSet(group, family)]?.elements = new[family] ?? []
                    }
                } else {
                    elementOps[host, default: []] += changes
                }
            }
        }
        // Group chains of groups whose rules alone changed, on hosts not compiled again.
        var ruleOps: [String: [NFTOperation]] = [:]
        for group in work.rulesOnly {
            for host in index.hosts(withMembersOf: group) where !recompile.contains(host) {
                for direction in Direction.allCases {
                    let chain = Naming.groupChain(group, direction)
                    let rules = index.rules(ofGroup: group, direction)
                    if patched[host] != nil {
                        patched[host]!.tables[inet]!.chains[chain]?.rules = rules
                        continue
                    }
                    // Members without port security have no chains.
                    guard let old = states[host]?.tables[inet]?.chains[chain], old.rules != rules else { continue }
                    states[host]!.tables[inet]!.chains[chain]!.rules = rules
                    ruleOps[host, default: []].append(.replaceRules(inet, chain: chain, rules))
                }
            }
        }
        for host in Set(elementOps.keys).union(ruleOps.keys) {
            var ops: [NFTOperation] = []
            // The order `diff` gives: elements by set name, then chains by name.
            for change in (elementOps[host] ?? []).sorted(by: { $0.set < $1.set }) {
                states[host]!.tables[inet]!.sets[change.set]!.elements.subtract(change.removed)
                states[host]!.tables[inet]!.sets[change.set]!.elements.formUnion(change.added)
                if !change.removed.isEmpty { ops.append(.deleteElements(inet, set: change.set, change.removed)) }
                if !change.added.isEmpty { ops.append(.addElements(inet, set: change.set, change.added)) }
            }
            for op in (ruleOps[host] ?? []).sorted(by: { Self.chainName($0) < Self.chainName($1) }) { ops.append(op) }
            deltas[host, default: HostDelta()].nft += ops
        }

        for (host, new) in patched {
            let delta = diff(states[host]!, new)
            states[host] = new
            if !delta.isEmpty { deltas[host] = delta }
        }
        return ChangeResult(deltas: deltas)
    }

    private static func chainName(_ op: NFTOperation) -> String {
        if case .replaceRules(_, let chain, _) = op { chain } else { "" }
    }
}
