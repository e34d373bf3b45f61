/// The semantic checks of policy-format.md that look across objects:
/// references, uniqueness, subnets, VTEPs and group kinds. Names and
/// references come from every object, even a broken one; the other checks
/// run on whatever the structural pass could build. Either way its findings
/// add to, rather than replace, the structural ones. (Checks within one
/// object, such as a rule's ethertype, are in the structural pass.)
struct PolicyValidator {
    let draft: PolicyDraft
    let log: DiagnosticLog

    func validate() {
        checkUniqueNames()
        checkReferences()
        checkSegments()
        checkPorts()
        checkVTEPs()
    }

    private func checkUniqueNames() {
        struct Key: Hashable { var kind: NameKind; var name: String }
        var first: [Key: JSONPath] = [:]
        for (path, kind, name) in draft.names {
            if let earlier = first[Key(kind: kind, name: name)] {
                log.report(path["name"], "duplicate \(kind) name \"\(name)\" (first used at \(earlier))")
            } else {
                first[Key(kind: kind, name: name)] = path
            }
        }
    }

    private func checkReferences() {
        for (path, kind, name) in draft.references where !draft.unknownKinds.contains(kind) {
            let known: Set<String>
            switch kind {
            case .network: known = draft.declaredNetworks
            case .host: known = draft.declaredHosts
            case .securityGroup: known = draft.declaredGroups
            case .port: continue
            }
            if !known.contains(name) {
                log.report(path, "unknown \(kind) \(Shown.quoted(name))\(NameSuggestion.hint(for: name, in: known))")
            }
        }
    }

    private func checkSegments() {
        var first: [Segment: Int] = [:]
        for (k, network) in draft.networkFacts.enumerated() {
            guard let segment = network.segment else { continue }
            if let earlier = first[segment].map({ draft.networkFacts[$0] }) {
                log.report(network.path["segment"], "\(segment) is already used by \(owner("network", earlier.name, earlier.path))")
            } else {
                first[segment] = k
            }
        }
    }

    /// `network "blue" (networks[0])`, or just the path when the name is invalid.
    private func owner(_ kind: String, _ name: String?, _ path: JSONPath) -> String {
        name.map { "\(kind) \(Shown.quoted($0)) (\(path))" } ?? "\(path)"
    }

    private func checkPorts() {
        // The first object of a name counts (a second one is a duplicate).
        var subnetsOfNetwork: [String: [IPPrefix]?] = [:]
        for network in draft.networkFacts {
            if let name = network.name, subnetsOfNetwork[name] == nil { subnetsOfNetwork[name] = .some(network.subnets) }
        }
        var uplinks: [String: String?] = [:]
        for host in draft.hostFacts { if let name = host.name, uplinks[name] == nil { uplinks[name] = .some(host.uplink) } }
        var stateful: [String: Bool] = [:]
        for group in draft.groupFacts { if let name = group.name, let s = group.stateful, stateful[name] == nil { stateful[name] = s } }

        // Values are indices into draft.portFacts.
        struct DeviceKey: Hashable { var host: String; var device: String }
        struct MACKey: Hashable { var network: String; var mac: MACAddress }
        struct IPKey: Hashable { var network: String; var ip: IPAddress }
        var devices: [DeviceKey: Int] = [:]
        var macs: [MACKey: Int] = [:]
        var ips: [IPKey: (port: Int, index: Int)] = [:]
        devices.reserveCapacity(draft.portFacts.count)
        macs.reserveCapacity(draft.portFacts.count)
        ips.reserveCapacity(draft.portFacts.count * 2)

        for (k, port) in draft.portFacts.enumerated() {
            let path = port.path
            let kinds = Set(port.groups.compactMap { stateful[$0] })
            if kinds.count > 1 {
                let stateless = port.groups.filter { stateful[$0] == false }
                log.report(
                    path["securityGroups"],
                    "mixes stateful and stateless security groups (stateless: \(stateless.map { "\"\($0)\"" }.joined(separator: ", "))); a port's groups must all be one kind")
            }
            if let host = port.host, let device = port.device {
                if let uplink = uplinks[host] ?? nil, uplink == device {
                    log.report(path["device"], "\"\(device)\" is the uplink of host \"\(host)\"")
                }
                let key = DeviceKey(host: host, device: device)
                if let earlier = devices[key].map({ draft.portFacts[$0] }) {
                    log.report(path["device"], "device \"\(device)\" on host \"\(host)\" is already used by \(owner("port", earlier.name, earlier.path))")
                } else {
                    devices[key] = k
                }
            }
            guard let networkName = port.network else { continue }
            if let mac = port.mac {
                let key = MACKey(network: networkName, mac: mac)
                if let earlier = macs[key].map({ draft.portFacts[$0] }) {
                    log.report(path["mac"], "MAC \(mac) is already used on network \"\(networkName)\" by \(owner("port", earlier.name, earlier.path))")
                } else {
                    macs[key] = k
                }
            }
            let subnets = subnetsOfNetwork[networkName] ?? nil
            for (i, ip) in port.ips {
                let key = IPKey(network: networkName, ip: ip)
                if let earlier = ips[key] {
                    let other = draft.portFacts[earlier.port]
                    let where_ = other.path["ips"][earlier.index]
                    let by = earlier.port == k ? "this port (\(where_))" : owner("port", other.name, where_)
                    log.report(path["ips"][i], "IP \(ip) is already used on network \"\(networkName)\" by \(by)")
                } else {
                    ips[key] = (k, i)
                }
                if let subnets, !subnets.isEmpty, !subnets.contains(where: { $0.contains(ip) }) {
                    log.report(
                        path["ips"][i],
                        "IP \(ip) is outside the subnets of network \"\(networkName)\" (\(subnets.map(\.description).joined(separator: ", ")))")
                }
            }
        }
    }

    /// A host needs a VTEP when it has a port on a VXLAN network that also
    /// has ports on another host: the tunnels run between VTEPs. Only known
    /// hosts count: a port on a misspelled host is reported as such, and its
    /// network's other hosts are not also told they need a VTEP for it.
    private func checkVTEPs() {
        var hostsOfNetwork: [String: Set<String>] = [:]
        for port in draft.portFacts {
            guard let host = port.host, let network = port.network, draft.declaredHosts.contains(host) else { continue }
            hostsOfNetwork[network, default: []].insert(host)
        }
        for host in draft.hostFacts where host.vtepMissing {
            guard let name = host.name else { continue }
            for network in draft.networkFacts {
                guard let networkName = network.name, case .vxlan(let vni)? = network.segment,
                    let hosts = hostsOfNetwork[networkName], hosts.contains(name), hosts.count > 1
                else { continue }
                let others = hosts.subtracting([name]).sorted()
                log.report(
                    host.path,
                    "missing \"vtep\": host \"\(name)\" has ports on VXLAN network \"\(networkName)\" (vni \(vni)), which also has ports on \(others.count == 1 ? "host" : "hosts") \(others.map { "\"\($0)\"" }.joined(separator: ", "))")
                break
            }
        }
    }
}
