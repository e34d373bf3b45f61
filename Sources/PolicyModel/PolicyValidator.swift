/// The semantic checks of policy-format.md that look across objects:
/// references, uniqueness, subnets, VTEPs and group kinds. Runs on whatever
/// the structural pass could build, so its findings add to, rather than
/// replace, the structural ones.
struct PolicyValidator {
    let draft: PolicyDraft
    let log: DiagnosticLog

    func validate() {
        checkUniqueNames(draft.networks.map { ($0.path, $0.network.name) }, kind: "network")
        checkUniqueNames(draft.hosts.map { ($0.path, $0.host.name) }, kind: "host")
        checkUniqueNames(draft.groups.map { ($0.path, $0.group.name) }, kind: "security group")
        checkUniqueNames(draft.ports.map { ($0.path, $0.port.name) }, kind: "port")
        checkSegments()
        checkRules()
        checkPorts()
        checkVTEPs()
    }

    private func checkUniqueNames(_ items: [(JSONPath, String)], kind: String) {
        var first: [String: JSONPath] = [:]
        for (path, name) in items {
            if let earlier = first[name] {
                log.report(path["name"], "duplicate \(kind) name \"\(name)\" (first used at \(earlier))")
            } else {
                first[name] = path
            }
        }
    }

    private func checkSegments() {
        var first: [Segment: (JSONPath, String)] = [:]
        for (path, network) in draft.networks {
            if let (earlier, other) = first[network.segment] {
                log.report(path["segment"], "\(network.segment) is already used by network \"\(other)\" (\(earlier))")
            } else {
                first[network.segment] = (path, network.name)
            }
        }
    }

    private func checkRules() {
        for (groupPath, group, rulePaths) in draft.groups {
            _ = groupPath
            for (rule, path) in zip(group.rules, rulePaths) {
                if let ethertype = rule.ethertype {
                    if case .cidr(let prefix) = rule.remote, prefix.family != ethertype.family {
                        log.report(path["ethertype"], "ethertype \(ethertype.rawValue) contradicts remote cidr \(prefix)")
                    }
                    if rule.proto == .icmp && ethertype != .ipv4 || rule.proto == .icmpv6 && ethertype != .ipv6 {
                        log.report(path["ethertype"], "ethertype \(ethertype.rawValue) contradicts protocol \(rule.proto)")
                    }
                } else if case .cidr(let prefix) = rule.remote,
                    rule.proto == .icmp && prefix.family != .ipv4 || rule.proto == .icmpv6 && prefix.family != .ipv6
                {
                    log.report(path["remote"]["cidr"], "remote cidr \(prefix) contradicts protocol \(rule.proto)")
                }
                if case .group(let name) = rule.remote, !draft.declaredGroups.contains(name) {
                    log.report(
                        path["remote"]["group"],
                        "unknown security group \"\(name)\"\(NameSuggestion.hint(for: name, in: draft.declaredGroups))")
                }
            }
        }
    }

    private func checkPorts() {
        let networks = Dictionary(draft.networks.map { ($0.network.name, $0.network) }, uniquingKeysWith: { a, _ in a })
        let hosts = Dictionary(draft.hosts.map { ($0.host.name, $0.host) }, uniquingKeysWith: { a, _ in a })
        let groups = Dictionary(draft.groups.map { ($0.group.name, $0.group) }, uniquingKeysWith: { a, _ in a })

        struct DeviceKey: Hashable { var host: String; var device: String }
        struct MACKey: Hashable { var network: String; var mac: MACAddress }
        struct IPKey: Hashable { var network: String; var ip: IPAddress }
        var devices: [DeviceKey: (JSONPath, String)] = [:]
        var macs: [MACKey: (JSONPath, String)] = [:]
        var ips: [IPKey: (JSONPath, String)] = [:]

        for (path, port) in draft.ports {
            if !draft.declaredHosts.contains(port.host) {
                log.report(path["host"], "unknown host \"\(port.host)\"\(NameSuggestion.hint(for: port.host, in: draft.declaredHosts))")
            }
            if !draft.declaredNetworks.contains(port.network) {
                log.report(
                    path["network"],
                    "unknown network \"\(port.network)\"\(NameSuggestion.hint(for: port.network, in: draft.declaredNetworks))")
            }
            for (i, name) in port.securityGroups.enumerated() where !draft.declaredGroups.contains(name) {
                log.report(
                    path["securityGroups"][i],
                    "unknown security group \"\(name)\"\(NameSuggestion.hint(for: name, in: draft.declaredGroups))")
            }
            var seenGroups: Set<String> = []
            for (i, name) in port.securityGroups.enumerated() where !seenGroups.insert(name).inserted {
                log.report(path["securityGroups"][i], "security group \"\(name)\" is listed twice")
            }
            if !port.portSecurity, !port.securityGroups.isEmpty {
                log.report(path["securityGroups"], "a port with portSecurity false is not filtered, so it can't be in security groups")
            }
            let kinds = Set(port.securityGroups.compactMap { groups[$0]?.stateful })
            if kinds.count > 1 {
                let stateless = port.securityGroups.filter { groups[$0]?.stateful == false }
                log.report(
                    path["securityGroups"],
                    "mixes stateful and stateless security groups (stateless: \(stateless.map { "\"\($0)\"" }.joined(separator: ", "))); a port's groups must all be one kind")
            }
            if let host = hosts[port.host], host.uplink == port.device {
                log.report(path["device"], "\"\(port.device)\" is the uplink of host \"\(port.host)\"")
            }
            if let (earlier, other) = devices[DeviceKey(host: port.host, device: port.device)] {
                log.report(path["device"], "device \"\(port.device)\" on host \"\(port.host)\" is already used by port \"\(other)\" (\(earlier))")
            } else {
                devices[DeviceKey(host: port.host, device: port.device)] = (path, port.name)
            }
            if let (earlier, other) = macs[MACKey(network: port.network, mac: port.mac)] {
                log.report(path["mac"], "MAC \(port.mac) is already used on network \"\(port.network)\" by port \"\(other)\" (\(earlier))")
            } else {
                macs[MACKey(network: port.network, mac: port.mac)] = (path, port.name)
            }
            let network = networks[port.network]
            for (i, ip) in port.ips.enumerated() {
                if let (earlier, other) = ips[IPKey(network: port.network, ip: ip)] {
                    let owner = other == port.name ? "this port" : "port \"\(other)\""
                    log.report(path["ips"][i], "IP \(ip) is already used on network \"\(port.network)\" by \(owner) (\(earlier))")
                } else {
                    ips[IPKey(network: port.network, ip: ip)] = (path["ips"][i], port.name)
                }
                if let network, !network.subnets.isEmpty, !network.subnets.contains(where: { $0.contains(ip) }) {
                    log.report(
                        path["ips"][i],
                        "IP \(ip) is outside the subnets of network \"\(network.name)\" (\(network.subnets.map(\.description).joined(separator: ", ")))")
                }
            }
        }
    }

    /// A host needs a VTEP when it has a port on a VXLAN network that also
    /// has ports on another host: the tunnels run between VTEPs.
    private func checkVTEPs() {
        var hostsOfNetwork: [String: Set<String>] = [:]
        for (_, port) in draft.ports { hostsOfNetwork[port.network, default: []].insert(port.host) }
        for (path, host) in draft.hosts where host.vtep == nil {
            for (_, network) in draft.networks {
                guard case .vxlan(let vni) = network.segment, let hosts = hostsOfNetwork[network.name],
                    hosts.contains(host.name), hosts.count > 1
                else { continue }
                let others = hosts.subtracting([host.name]).sorted()
                log.report(
                    path,
                    "missing \"vtep\": host \"\(host.name)\" has ports on VXLAN network \"\(network.name)\" (vni \(vni)), which also has ports on \(others.count == 1 ? "host" : "hosts") \(others.map { "\"\($0)\"" }.joined(separator: ", "))")
                break
            }
        }
    }
}
