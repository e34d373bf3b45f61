import PolicyCompiler
import PolicyModel

/// Checks one change against the policy as it stands, with the rules of
/// policy-format.md, and says what is wrong the way `sgctl validate` does,
/// with the change's place in the batch as the path: `changes[2]
/// (port "web-1").ips[0]: IP 10.0.0.5 is already used on network "blue" by
/// port "db-1"`.
///
/// Checks within the changed object and its references run through the
/// policy decoder itself, on a policy of just that object and the objects
/// it names, so they are the same checks; checks across objects
/// (uniqueness, VTEPs, objects still in use) look at the index.
struct ChangeValidator {
    let index: PolicyIndex
    let number: Int

    func resolve(_ change: PolicyChange) throws(PolicyError) -> ResolvedChange {
        guard let resolved = ResolvedChange(change, in: index) else {
            let name: String
            switch change {
            case .setPortGroups(let port, _), .setPortAddresses(let port, _, _): name = "port \"\(port)\""
            case .setGroupRules(let group, _): name = "security group \"\(group)\""
            default: name = "object"
            }
            throw PolicyError([Diagnostic(path: "changes[\(number)]", message: "unknown \(name)")])
        }
        let problems: [Diagnostic]
        switch resolved {
        case .port(let name, let port?): problems = check(port, replacing: index.port(name))
        case .port(let name, nil):
            problems = index.port(name) == nil ? [problem("port \"\(name)\"", "", "no such port")] : []
        case .group(_, let group?): problems = check(group)
        case .group(let name, nil): problems = checkRemoval(group: name)
        case .network(_, let network?): problems = check(network)
        case .network(let name, nil):
            problems = index.hosts(onNetwork: name).isEmpty ? [] : [problem("network \"\(name)\"", "", "still has ports")]
        case .host(_, let host?): problems = check(host)
        case .host(let name, nil):
            problems = index.ports(onHost: name).isEmpty ? [] : [problem("host \"\(name)\"", "", "still has ports")]
        }
        if !problems.isEmpty { throw PolicyError(problems) }
        return resolved
    }

    private func problem(_ what: String, _ path: String, _ message: String) -> Diagnostic {
        Diagnostic(path: "changes[\(number)] (\(what))\(path)", message: message)
    }

    /// Runs the decoder's checks on a policy of `mini`, reporting paths
    /// under `kind[0]` as paths of the change.
    private func decoderProblems(_ mini: Policy, kind: String, what: String) -> [Diagnostic] {
        guard case .failure(let error) = PolicyDecoder.decode(PolicyEncoder.encode(mini)) else { return [] }
        return error.diagnostics.map { d in
            let prefix = "\(kind)[0]"
            let path = d.path.hasPrefix(prefix) ? String(d.path.dropFirst(prefix.count)) : (d.path.isEmpty ? "" : " \(d.path)")
            return problem(what, path, withSuggestion(d.message))
        }
    }

    /// The small policy knows none of the other names: suggest from the whole index.
    private func withSuggestion(_ message: String) -> String {
        let kinds: [(String, [String])] = [
            ("unknown security group ", index.groupNames), ("unknown network ", index.networkNames), ("unknown host ", index.hostNames),
        ]
        for (prefix, names) in kinds where message.hasPrefix(prefix) && !message.contains("did you mean") {
            let name = String(message.dropFirst(prefix.count).filter { $0 != "\"" })
            return message + NameSuggestion.hint(for: name, in: names)
        }
        return message
    }

    private func stub(_ name: String) -> SecurityGroup? {
        index.group(name).map { SecurityGroup(name: name, stateful: $0.stateful) }
    }

    // MARK: - ports

    private func check(_ port: Port, replacing old: Port?) -> [Diagnostic] {
        let what = "port \"\(port.name)\""
        let mini = Policy(
            networks: index.network(port.network).map { [$0] } ?? [],
            hosts: index.host(port.host).map { [$0] } ?? [],
            securityGroups: port.securityGroups.compactMap(stub),
            ports: [port])
        var problems = decoderProblems(mini, kind: "ports", what: what)

        for other in index.ports(onHost: port.host) where other.name != port.name && other.device == port.device {
            problems.append(problem(what, ".device", "device \"\(port.device)\" on host \"\(port.host)\" is already used by port \"\(other.name)\""))
        }
        if let owner = index.owner(ofMAC: port.mac, on: port.network), owner != port.name {
            problems.append(problem(what, ".mac", "MAC \(port.mac) is already used on network \"\(port.network)\" by port \"\(owner)\""))
        }
        for (i, ip) in port.ips.enumerated() {
            if let owner = index.owner(ofIP: ip, on: port.network), owner != port.name {
                problems.append(problem(what, ".ips[\(i)]", "IP \(ip) is already used on network \"\(port.network)\" by port \"\(owner)\""))
            }
        }
        // A VXLAN network on two or more hosts needs a VTEP on each of them.
        if case .vxlan(let vni)? = index.network(port.network)?.segment {
            let hosts = index.hosts(onNetwork: port.network).union([port.host])
            if hosts.count > 1 {
                for name in hosts.sorted() where index.host(name) != nil && index.host(name)?.vtep == nil {
                    problems.append(problem(what, ".network", "host \"\(name)\" needs a \"vtep\": network \"\(port.network)\" (vni \(vni)) would have ports on \(hosts.count) hosts"))
                }
            }
        }
        return problems
    }

    // MARK: - groups

    private func check(_ group: SecurityGroup) -> [Diagnostic] {
        let what = "security group \"\(group.name)\""
        var remotes = Set<String>()
        for rule in group.rules { if case .group(let name) = rule.remote, name != group.name { remotes.insert(name) } }
        let mini = Policy(securityGroups: [group] + remotes.sorted().compactMap(stub))
        var problems = decoderProblems(mini, kind: "securityGroups", what: what)
        // Its members' other groups must stay of the same kind.
        if let old = index.group(group.name), old.stateful != group.stateful {
            for host in index.hosts(withMembersOf: group.name).sorted() {
                for port in index.ports(onHost: host) where port.securityGroups.contains(group.name) {
                    let mixed = port.securityGroups.filter { $0 != group.name && index.group($0)?.stateful != group.stateful }
                    if !mixed.isEmpty {
                        problems.append(problem(what, ".stateful", "port \"\(port.name)\" would mix stateful and stateless groups (with \"\(mixed[0])\")"))
                    }
                }
            }
        }
        return problems
    }

    private func checkRemoval(group name: String) -> [Diagnostic] {
        let what = "security group \"\(name)\""
        guard index.group(name) != nil else { return [problem(what, "", "no such security group")] }
        var problems: [Diagnostic] = []
        if let host = index.hosts(withMembersOf: name).sorted().first {
            problems.append(problem(what, "", "still has members (on host \"\(host)\")"))
        }
        if let referrer = index.referrers(of: name).first(where: { $0 != name }) {
            problems.append(problem(what, "", "still named as remote by security group \"\(referrer)\""))
        }
        return problems
    }

    // MARK: - networks and hosts

    private func check(_ network: Network) -> [Diagnostic] {
        let what = "network \"\(network.name)\""
        var problems = decoderProblems(Policy(networks: [network]), kind: "networks", what: what)
        if let other = index.network(usingSegment: network.segment), other != network.name {
            problems.append(problem(what, ".segment", "\(network.segment) is already used by network \"\(other)\""))
        }
        if let old = index.network(network.name), old.subnets != network.subnets {
            for host in index.hosts(onNetwork: network.name).sorted() {
                for port in index.ports(onHost: host) where port.network == network.name {
                    for ip in port.ips where !network.subnets.isEmpty && !network.subnets.contains(where: { $0.contains(ip) }) {
                        problems.append(problem(what, ".subnets", "port \"\(port.name)\" has IP \(ip) outside them"))
                    }
                }
            }
        }
        return problems
    }

    private func check(_ host: Host) -> [Diagnostic] {
        let what = "host \"\(host.name)\""
        var problems = decoderProblems(Policy(hosts: [host]), kind: "hosts", what: what)
        for port in index.ports(onHost: host.name) {
            if port.device == host.uplink {
                problems.append(problem(what, ".uplink", "\"\(port.device)\" is the device of port \"\(port.name)\""))
            }
            if host.vtep == nil, case .vxlan = index.network(port.network)?.segment, index.hosts(onNetwork: port.network).count > 1 {
                problems.append(problem(what, "", "missing \"vtep\": it has ports on VXLAN network \"\(port.network)\", which spans hosts"))
                break
            }
        }
        return problems
    }
}
