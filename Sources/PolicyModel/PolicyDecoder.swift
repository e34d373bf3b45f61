/// Turns policy text into a validated `Policy`, or into every problem the
/// text has. Two passes: the structural one here (types, fields, syntax of
/// names, addresses and ranges) and the semantic one in `PolicyValidator`
/// (references, uniqueness, subnets, VTEPs, group kinds). Both run on every
/// input, so a policy with a typo and a duplicate MAC reports both.
public enum PolicyDecoder {
    /// Decodes strict JSON. Syntax errors are reported as one diagnostic
    /// with the line and column.
    public static func decode(json bytes: some Collection<UInt8>) -> Result<Policy, PolicyError> {
        do {
            return decode(try JSONParser.parse(bytes))
        } catch {
            return .failure(PolicyError([Diagnostic(path: "", message: "invalid JSON: \(error)")]))
        }
    }

    public static func decode(json text: String) -> Result<Policy, PolicyError> {
        decode(json: Array(text.utf8))
    }

    /// Decodes a parsed document (from JSON or YAML).
    public static func decode(_ document: JSONValue) -> Result<Policy, PolicyError> {
        let log = DiagnosticLog()
        var structure = StructuralDecoder(log: log)
        let draft = structure.decode(document)
        PolicyValidator(draft: draft, log: log).validate()
        if log.diagnostics.isEmpty, let policy = draft.policy {
            return .success(policy)
        }
        // Stable order: by path as written in the file, then message.
        return .failure(PolicyError(log.diagnostics))
    }
}

/// What the structural pass could build. Objects that had a problem are
/// missing from the lists, but their names are still known, so that a port
/// referring to a network with a bad segment is not also told the network
/// does not exist.
struct PolicyDraft {
    var version: Int?
    var networks: [(path: JSONPath, network: Network)] = []
    var hosts: [(path: JSONPath, host: Host)] = []
    var groups: [(path: JSONPath, group: SecurityGroup, rulePaths: [JSONPath])] = []
    var ports: [(path: JSONPath, port: Port)] = []
    var declaredNetworks: Set<String> = []
    var declaredHosts: Set<String> = []
    var declaredGroups: Set<String> = []
    var complete = true

    var policy: Policy? {
        guard complete, let version else { return nil }
        return Policy(
            version: version, networks: networks.map(\.network), hosts: hosts.map(\.host),
            securityGroups: groups.map(\.group), ports: ports.map(\.port))
    }
}

enum Syntax {
    /// Names of networks, hosts, groups and ports: 1 to 63 characters of
    /// `A-Z a-z 0-9 _ . -`, starting with a letter or digit.
    static func nameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "name is empty" }
        if bytes.count > 63 { return "name \"\(name)\" is longer than 63 characters" }
        func alnum(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        if !alnum(bytes[0]) { return "name \"\(name)\" must start with a letter or digit" }
        if let bad = bytes.first(where: { !(alnum($0) || $0 == 95 || $0 == 46 || $0 == 45) }) {
            return "name \"\(name)\" contains \"\(String(decoding: [bad], as: UTF8.self))\"; allowed are A-Z a-z 0-9 _ . -"
        }
        return nil
    }

    /// Linux interface names (dev_valid_name): 1 to 15 bytes, not "." or
    /// "..", no '/', ':' or whitespace.
    static func interfaceProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "interface name is empty" }
        if bytes.count > Port.maxDeviceBytes {
            return "interface name \"\(name)\" is \(bytes.count) bytes; Linux allows at most \(Port.maxDeviceBytes)"
        }
        if name == "." || name == ".." { return "\"\(name)\" is not a valid interface name" }
        if bytes.contains(where: { $0 == 47 || $0 == 58 || $0 <= 32 || $0 == 127 }) {
            return "interface name \"\(name)\" may not contain '/', ':', spaces or control characters"
        }
        return nil
    }
}

struct StructuralDecoder {
    let log: DiagnosticLog
    var draft = PolicyDraft()

    init(log: DiagnosticLog) { self.log = log }

    mutating func decode(_ document: JSONValue) -> PolicyDraft {
        let root = JSONPath.root
        guard
            let top = ObjectReader(
                document, at: root, log: log,
                knownKeys: ["version", "networks", "hosts", "securityGroups", "ports"])
        else {
            draft.complete = false
            return draft
        }
        if let version = top.value("version", required: true) {
            if case .number(let n) = version, let v = n.integerValue {
                if v == Policy.supportedVersion {
                    draft.version = v
                } else {
                    log.report(root["version"], "unsupported version \(v); this program reads version \(Policy.supportedVersion)")
                }
            } else {
                log.report(root["version"], "expected the integer \(Policy.supportedVersion), found \(version.serialized())")
            }
        }
        // Names first, so references can be checked even in broken objects.
        let networks = top.array("networks")
        let hosts = top.array("hosts")
        let groups = top.array("securityGroups")
        let ports = top.array("ports")
        collectNames(networks, into: \.declaredNetworks)
        collectNames(hosts, into: \.declaredHosts)
        collectNames(groups, into: \.declaredGroups)

        for (i, item) in (networks ?? []).enumerated() {
            if let n = network(item, at: root["networks"][i]) { draft.networks.append((root["networks"][i], n)) } else { draft.complete = false }
        }
        for (i, item) in (hosts ?? []).enumerated() {
            if let h = host(item, at: root["hosts"][i]) { draft.hosts.append((root["hosts"][i], h)) } else { draft.complete = false }
        }
        for (i, item) in (groups ?? []).enumerated() {
            let path = root["securityGroups"][i]
            if let (g, rulePaths) = group(item, at: path) { draft.groups.append((path, g, rulePaths)) } else { draft.complete = false }
        }
        for (i, item) in (ports ?? []).enumerated() {
            if let p = port(item, at: root["ports"][i]) { draft.ports.append((root["ports"][i], p)) } else { draft.complete = false }
        }
        if !log.diagnostics.isEmpty { draft.complete = false }
        return draft
    }

    private mutating func collectNames(_ items: [JSONValue]?, into keyPath: WritableKeyPath<PolicyDraft, Set<String>>) {
        for item in items ?? [] {
            if case .object(let members) = item, let name = members.first(where: { $0.key == "name" }),
                case .string(let s) = name.value
            {
                draft[keyPath: keyPath].insert(s)
            }
        }
    }

    private func name(_ reader: ObjectReader) -> String? {
        guard let name = reader.string("name", required: true) else { return nil }
        if let problem = Syntax.nameProblem(name) {
            log.report(reader.path["name"], problem)
            return nil
        }
        return name
    }

    private func network(_ value: JSONValue, at path: JSONPath) -> Network? {
        guard let r = ObjectReader(value, at: path, log: log, knownKeys: ["name", "segment", "subnets"]) else { return nil }
        let name = name(r)
        var segment: Segment?
        if let s = r.value("segment", required: true),
            let sr = ObjectReader(s, at: path["segment"], log: log, knownKeys: ["type", "id", "vni"])
        {
            switch sr.string("type", required: true) {
            case "vlan":
                if sr.has("vni") { log.report(path["segment"]["vni"], "\"vni\" belongs to vxlan segments; a vlan segment has \"id\"") }
                if let id = sr.integer("id", in: Segment.vlanIDs, required: true) { segment = .vlan(id: UInt16(id)) }
            case "vxlan":
                if sr.has("id") { log.report(path["segment"]["id"], "\"id\" belongs to vlan segments; a vxlan segment has \"vni\"") }
                if let vni = sr.integer("vni", in: Segment.vnis, required: true) { segment = .vxlan(vni: UInt32(vni)) }
            case let other?:
                log.report(path["segment"]["type"], "unknown segment type \"\(other)\"; expected \"vlan\" or \"vxlan\"")
            case nil:
                break
            }
        }
        var subnets: [IPPrefix] = []
        var subnetsOK = true
        for (i, item) in (r.array("subnets") ?? []).enumerated() {
            if let p = prefix(item, at: path["subnets"][i], allowBareAddress: false) { subnets.append(p) } else { subnetsOK = false }
        }
        guard let name, let segment, subnetsOK else { return nil }
        return Network(name: name, segment: segment, subnets: subnets)
    }

    private func host(_ value: JSONValue, at path: JSONPath) -> Host? {
        guard let r = ObjectReader(value, at: path, log: log, knownKeys: ["name", "uplink", "vtep"]) else { return nil }
        let name = name(r)
        var ok = true
        let uplink = r.string("uplink")
        if let uplink, let problem = Syntax.interfaceProblem(uplink) {
            log.report(path["uplink"], problem)
            ok = false
        }
        var vtep: IPAddress?
        if let text = r.string("vtep") {
            vtep = IPAddress(text)
            if vtep == nil {
                log.report(path["vtep"], "\"\(text)\" is not an IP address")
                ok = false
            }
        } else if r.has("vtep") {
            ok = false
        }
        if r.has("uplink") && uplink == nil { ok = false }
        guard let name, ok else { return nil }
        return Host(name: name, uplink: uplink, vtep: vtep)
    }

    private func group(_ value: JSONValue, at path: JSONPath) -> (SecurityGroup, [JSONPath])? {
        guard let r = ObjectReader(value, at: path, log: log, knownKeys: ["name", "description", "stateful", "rules"])
        else { return nil }
        let name = name(r)
        let description = r.string("description")
        let stateful = r.bool("stateful")
        var ok = (description != nil || !r.has("description")) && (stateful != nil || !r.has("stateful"))
        var rules: [Rule] = []
        var rulePaths: [JSONPath] = []
        if let items = r.array("rules") {
            for (i, item) in items.enumerated() {
                if let rule = rule(item, at: path["rules"][i]) {
                    rules.append(rule)
                    rulePaths.append(path["rules"][i])
                } else {
                    ok = false
                }
            }
        } else if r.has("rules") {
            ok = false
        }
        guard let name, ok else { return nil }
        return (SecurityGroup(name: name, description: description, stateful: stateful ?? true, rules: rules), rulePaths)
    }

    private func rule(_ value: JSONValue, at path: JSONPath) -> Rule? {
        guard
            let r = ObjectReader(
                value, at: path, log: log,
                knownKeys: ["direction", "protocol", "ports", "icmp", "remote", "ethertype", "description"])
        else { return nil }
        var ok = true
        var direction: Direction?
        if let text = r.string("direction", required: true) {
            direction = Direction(rawValue: text)
            if direction == nil {
                log.report(path["direction"], "unknown direction \"\(text)\"; expected \"ingress\" or \"egress\"\(NameSuggestion.hint(for: text, in: ["ingress", "egress"]))")
            }
        }
        var proto = IPProtocol.any
        if let value = r.value("protocol") {
            switch value {
            case .string(let text):
                if let p = IPProtocol(name: text) {
                    proto = p
                } else {
                    log.report(path["protocol"], "unknown protocol \"\(text)\"; expected one of \(IPProtocol.names.joined(separator: ", ")) or a number 0..255\(NameSuggestion.hint(for: text, in: IPProtocol.names))")
                    ok = false
                }
            case .number:
                if let n = ObjectReader.integer(value, in: 0...255, at: path["protocol"], log: log) {
                    proto = IPProtocol(number: UInt8(n))
                } else {
                    ok = false
                }
            default:
                log.report(path["protocol"], "expected a protocol name or number, found \(value.typeName)")
                ok = false
            }
        }
        var ports: [PortRange] = []
        if let value = r.value("ports") {
            var items: [(JSONValue, JSONPath)] = []
            switch value {
            case .array(let list):
                if list.isEmpty {
                    log.report(path["ports"], "empty list of ports; leave \"ports\" out to match every port")
                    ok = false
                }
                items = list.enumerated().map { ($1, path["ports"][$0]) }
            default:
                items = [(value, path["ports"])]
            }
            for (item, itemPath) in items {
                guard case .string(let text) = item else {
                    log.report(itemPath, "expected a string like \"22\" or \"8000-8100\", found \(item.typeName)")
                    ok = false
                    continue
                }
                switch PortRange.parse(text) {
                case .success(let range): ports.append(range)
                case .failure(let error):
                    log.report(itemPath, error.message)
                    ok = false
                }
            }
            if ok, !proto.hasPorts {
                log.report(path["ports"], "ports are only allowed with protocol tcp, udp or sctp, not \(proto)")
                ok = false
            }
        }
        var icmp: ICMPMatch?
        if let value = r.value("icmp") {
            if let ir = ObjectReader(value, at: path["icmp"], log: log, knownKeys: ["type", "code"]) {
                let type = ir.integer("type", in: 0...255, required: true)
                let code = ir.integer("code", in: 0...255)
                if let type, code != nil || !ir.has("code") {
                    icmp = ICMPMatch(type: UInt8(type), code: code.map(UInt8.init))
                } else {
                    ok = false
                }
            } else {
                ok = false
            }
            if icmp != nil, !proto.isICMP {
                log.report(path["icmp"], "\"icmp\" is only allowed with protocol icmp or icmpv6, not \(proto)")
                ok = false
            }
        }
        var remote = Remote.any
        if let value = r.value("remote") {
            if let rr = ObjectReader(value, at: path["remote"], log: log, knownKeys: ["cidr", "group"]) {
                switch (rr.has("cidr"), rr.has("group")) {
                case (true, true):
                    log.report(path["remote"], "give either \"cidr\" or \"group\", not both")
                    ok = false
                case (false, false):
                    log.report(path["remote"], "needs \"cidr\" or \"group\" (leave \"remote\" out to match any address)")
                    ok = false
                case (true, false):
                    if let v = rr.value("cidr"), let p = prefix(v, at: path["remote"]["cidr"], allowBareAddress: false) {
                        remote = .cidr(p)
                    } else {
                        ok = false
                    }
                case (false, true):
                    if let g = rr.string("group") { remote = .group(g) } else { ok = false }
                }
            } else {
                ok = false
            }
        }
        var ethertype: EtherType?
        if let text = r.string("ethertype") {
            ethertype = EtherType(rawValue: text)
            if ethertype == nil {
                log.report(path["ethertype"], "unknown ethertype \"\(text)\"; expected \"ipv4\" or \"ipv6\"")
                ok = false
            }
        } else if r.has("ethertype") {
            ok = false
        }
        let description = r.string("description")
        if description == nil && r.has("description") { ok = false }
        guard let direction, ok else { return nil }
        return Rule(
            direction: direction, proto: proto, ports: ports, icmp: icmp, remote: remote,
            ethertype: ethertype, description: description)
    }

    private func port(_ value: JSONValue, at path: JSONPath) -> Port? {
        guard
            let r = ObjectReader(
                value, at: path, log: log,
                knownKeys: [
                    "name", "host", "device", "network", "mac", "ips", "securityGroups", "allowedAddressPairs",
                    "portSecurity",
                ])
        else { return nil }
        var ok = true
        let name = name(r)
        let host = r.string("host", required: true)
        let network = r.string("network", required: true)
        var device = r.string("device", required: true)
        if let d = device, let problem = Syntax.interfaceProblem(d) {
            log.report(path["device"], problem)
            device = nil
        }
        var mac: MACAddress?
        if let text = r.string("mac", required: true) {
            mac = self.mac(text, at: path["mac"])
        }
        let ipItems = r.array("ips")
        let groupItems = r.array("securityGroups")
        let pairItems = r.array("allowedAddressPairs")
        for (key, items) in [("ips", ipItems), ("securityGroups", groupItems), ("allowedAddressPairs", pairItems)]
        where r.has(key) && items == nil {
            ok = false
        }
        var ips: [IPAddress] = []
        for (i, item) in (ipItems ?? []).enumerated() {
            guard let text = ObjectReader.string(item, at: path["ips"][i], log: log) else { ok = false; continue }
            if let ip = IPAddress(text) {
                ips.append(ip)
            } else {
                log.report(path["ips"][i], "\"\(text)\" is not an IP address\(text.contains("/") ? " (ips are plain addresses; use allowedAddressPairs for prefixes)" : "")")
                ok = false
            }
        }
        var groups: [String] = []
        for (i, item) in (groupItems ?? []).enumerated() {
            if let g = ObjectReader.string(item, at: path["securityGroups"][i], log: log) { groups.append(g) } else { ok = false }
        }
        var pairs: [AddressPair] = []
        for (i, item) in (pairItems ?? []).enumerated() {
            let pairPath = path["allowedAddressPairs"][i]
            guard let pr = ObjectReader(item, at: pairPath, log: log, knownKeys: ["ip", "mac"]) else { ok = false; continue }
            let ip = pr.value("ip", required: true).flatMap { prefix($0, at: pairPath["ip"], allowBareAddress: true) }
            var pairMAC: MACAddress?
            if let text = pr.string("mac") { pairMAC = self.mac(text, at: pairPath["mac"]) }
            if let ip, pairMAC != nil || !pr.has("mac") {
                pairs.append(AddressPair(ip: ip, mac: pairMAC))
            } else {
                ok = false
            }
        }
        let portSecurity = r.bool("portSecurity")
        if portSecurity == nil && r.has("portSecurity") { ok = false }
        guard ok, let name, let host, let network, let device, let mac else { return nil }
        return Port(
            name: name, host: host, device: device, network: network, mac: mac, ips: ips, securityGroups: groups,
            allowedAddressPairs: pairs, portSecurity: portSecurity ?? true)
    }

    private func mac(_ text: String, at path: JSONPath) -> MACAddress? {
        guard let mac = MACAddress(text) else {
            log.report(path, "\"\(text)\" is not a MAC address (expected six hex octets like 52:54:00:12:34:56)")
            return nil
        }
        if mac.isZero {
            log.report(path, "\(mac) is the all-zero MAC address")
            return nil
        }
        if mac.isMulticast {
            log.report(path, "\(mac) is a multicast MAC address; a port needs a unicast one")
            return nil
        }
        return mac
    }

    private func prefix(_ value: JSONValue, at path: JSONPath, allowBareAddress: Bool) -> IPPrefix? {
        guard let text = ObjectReader.string(value, at: path, log: log) else { return nil }
        switch IPPrefix.parse(text, allowBareAddress: allowBareAddress) {
        case .success(let p): return p
        case .failure(let error):
            log.report(path, error.message)
            return nil
        }
    }
}
