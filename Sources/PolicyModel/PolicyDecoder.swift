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
        if log.isEmpty, let policy = draft.policy {
            return .success(policy)
        }
        // Stable order: by path as written in the file, then message.
        return .failure(PolicyError(log.diagnostics(inOrderOf: document)))
    }
}

/// The kinds of named objects.
enum NameKind: Hashable, Sendable, CustomStringConvertible {
    case network, host, securityGroup, port

    var description: String {
        switch self {
        case .network: "network"
        case .host: "host"
        case .securityGroup: "security group"
        case .port: "port"
        }
    }
}

/// What the structural pass could build. Objects that had a problem are
/// missing from the lists of built objects, but their names are still known,
/// so that a port referring to a network with a bad segment is not also told
/// the network does not exist. For the checks across objects, every object
/// also leaves the facts that it could decode (its segment, its device, its
/// MAC, ...), so that one broken field of a port does not hide, say, that
/// its MAC is taken: all problems are found in one run.
struct PolicyDraft {
    var version: Int?
    var networks: [(path: JSONPath, network: Network)] = []
    var hosts: [(path: JSONPath, host: Host)] = []
    var groups: [(path: JSONPath, group: SecurityGroup)] = []
    var ports: [(path: JSONPath, port: Port)] = []

    /// Facts of one object; nil (or left out) where that part is invalid.
    struct NetworkFacts {
        var path: JSONPath
        var name: String?
        var segment: Segment?
        /// nil when a subnet is invalid: then no IP can be said to be outside.
        var subnets: [IPPrefix]?
    }
    struct HostFacts {
        var path: JSONPath
        var name: String?
        var uplink: String?
        /// True when there is no "vtep" member at all (an invalid one is
        /// reported as such).
        var vtepMissing: Bool
    }
    struct GroupFacts {
        var path: JSONPath
        var name: String?
        var stateful: Bool?
    }
    struct PortFacts {
        var path: JSONPath
        var name: String?
        var host: String?
        var device: String?
        var network: String?
        var mac: MACAddress?
        /// The valid IPs with their index in "ips".
        var ips: [(index: Int, ip: IPAddress)] = []
        var groups: [String] = []
    }
    var networkFacts: [NetworkFacts] = []
    var hostFacts: [HostFacts] = []
    var groupFacts: [GroupFacts] = []
    var portFacts: [PortFacts] = []
    var declaredNetworks: Set<String> = []
    var declaredHosts: Set<String> = []
    var declaredGroups: Set<String> = []
    /// Kinds whose top-level list is present but not a list: nothing is
    /// known about their names, so references to them are not checked.
    var unknownKinds: Set<NameKind> = []
    /// Every well-formed name, in document order, for the uniqueness check.
    var names: [(path: JSONPath, kind: NameKind, name: String)] = []
    /// Every reference to a network, host or group, from any object.
    var references: [(path: JSONPath, kind: NameKind, name: String)] = []
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
        let scalars = name.unicodeScalars
        if scalars.isEmpty { return "name is empty" }
        if scalars.count > 63 { return "name \(Shown.quoted(name)) is longer than 63 characters" }
        func alnum(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) || ("A"..."Z").contains(c) || ("a"..."z").contains(c) }
        if !alnum(scalars.first!) { return "name \(Shown.quoted(name)) must start with a letter or digit" }
        // Whole characters, not bytes: "é" is named as such, not as half of its UTF-8.
        if let bad = scalars.first(where: { !(alnum($0) || $0 == "_" || $0 == "." || $0 == "-") }) {
            return "name \(Shown.quoted(name)) contains \(Shown.quoted(String(bad))); allowed are A-Z a-z 0-9 _ . -"
        }
        return nil
    }

    /// Linux interface names (dev_valid_name): 1 to 15 bytes, not "." or
    /// "..", no '/', ':' or whitespace.
    static func interfaceProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "interface name is empty" }
        if bytes.count > Port.maxDeviceBytes {
            return "interface name \(Shown.quoted(name)) is \(bytes.count) bytes; Linux allows at most \(Port.maxDeviceBytes)"
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
            } else if case .number(let n) = version, n.isWholeNumberLexeme {
                log.report(root["version"], "unsupported version \(Shown.number(n)); this program reads version \(Policy.supportedVersion)")
            } else {
                // Not the whole value: it may be a large tree.
                log.report(root["version"], "expected the integer \(Policy.supportedVersion), found \(Shown.value(version))")
            }
        }
        // Names first, so references can be checked even in broken objects.
        let networks = top.array("networks")
        let hosts = top.array("hosts")
        let groups = top.array("securityGroups")
        let ports = top.array("ports")
        collectNames(top, "networks", networks, kind: .network, into: \.declaredNetworks)
        collectNames(top, "hosts", hosts, kind: .host, into: \.declaredHosts)
        collectNames(top, "securityGroups", groups, kind: .securityGroup, into: \.declaredGroups)
        collectNames(top, "ports", ports, kind: .port, into: nil)

        for (i, item) in (networks ?? []).enumerated() {
            if let n = network(item, at: root["networks"][i]) { draft.networks.append((root["networks"][i], n)) } else { draft.complete = false }
        }
        for (i, item) in (hosts ?? []).enumerated() {
            if let h = host(item, at: root["hosts"][i]) { draft.hosts.append((root["hosts"][i], h)) } else { draft.complete = false }
        }
        for (i, item) in (groups ?? []).enumerated() {
            let path = root["securityGroups"][i]
            if let g = group(item, at: path) { draft.groups.append((path, g)) } else { draft.complete = false }
        }
        for (i, item) in (ports ?? []).enumerated() {
            if let p = port(item, at: root["ports"][i]) { draft.ports.append((root["ports"][i], p)) } else { draft.complete = false }
        }
        if !log.isEmpty { draft.complete = false }
        return draft
    }

    /// Collects the names of one kind before the objects are decoded. Like
    /// `ObjectReader`, the first "name" member counts. Every string name is
    /// declared (a badly spelled name is reported once, at the object, not
    /// again at each reference); well-formed ones take part in the
    /// uniqueness check.
    private mutating func collectNames(
        _ top: ObjectReader, _ key: String, _ items: [JSONValue]?, kind: NameKind,
        into declared: WritableKeyPath<PolicyDraft, Set<String>>?
    ) {
        guard let items else {
            if top.has(key) { draft.unknownKinds.insert(kind) }
            return
        }
        for (i, item) in items.enumerated() {
            guard case .object(let members) = item, let name = members.first(where: { $0.key == "name" }),
                case .string(let s) = name.value
            else { continue }
            if let declared { draft[keyPath: declared].insert(s) }
            if Syntax.nameProblem(s) == nil { draft.names.append((JSONPath.root[key][i], kind, s)) }
        }
    }

    private mutating func reference(_ kind: NameKind, _ name: String, at path: JSONPath) {
        draft.references.append((path, kind, name))
    }

    private func name(_ reader: ObjectReader) -> String? {
        guard let name = reader.string("name", required: true) else { return nil }
        if let problem = Syntax.nameProblem(name) {
            log.report(reader.path["name"], problem)
            return nil
        }
        return name
    }

    private mutating func network(_ value: JSONValue, at path: JSONPath) -> Network? {
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
        draft.networkFacts.append(.init(path: path, name: name, segment: segment, subnets: subnetsOK ? subnets : nil))
        guard let name, let segment, subnetsOK else { return nil }
        return Network(name: name, segment: segment, subnets: subnets)
    }

    private mutating func host(_ value: JSONValue, at path: JSONPath) -> Host? {
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
        draft.hostFacts.append(.init(path: path, name: name, uplink: ok ? uplink : nil, vtepMissing: !r.has("vtep")))
        guard let name, ok else { return nil }
        return Host(name: name, uplink: uplink, vtep: vtep)
    }

    private mutating func group(_ value: JSONValue, at path: JSONPath) -> SecurityGroup? {
        guard let r = ObjectReader(value, at: path, log: log, knownKeys: ["name", "description", "stateful", "rules"])
        else { return nil }
        let name = name(r)
        let description = r.string("description")
        let stateful = r.bool("stateful")
        var ok = (description != nil || !r.has("description")) && (stateful != nil || !r.has("stateful"))
        var rules: [Rule] = []
        if let items = r.array("rules") {
            for (i, item) in items.enumerated() {
                if let rule = rule(item, at: path["rules"][i]) {
                    rules.append(rule)
                } else {
                    ok = false
                }
            }
        } else if r.has("rules") {
            ok = false
        }
        draft.groupFacts.append(.init(path: path, name: name, stateful: r.has("stateful") ? stateful : true))
        guard let name, ok else { return nil }
        return SecurityGroup(name: name, description: description, stateful: stateful ?? true, rules: rules)
    }

    private mutating func rule(_ value: JSONValue, at path: JSONPath) -> Rule? {
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
        // `proto` is nil when the protocol is invalid: then "ports" and
        // "icmp" can't be judged against it and only the protocol is reported.
        var proto: IPProtocol? = .any
        if let value = r.value("protocol") {
            switch value {
            case .string(let text):
                proto = IPProtocol(name: text)
                if proto == nil {
                    log.report(path["protocol"], "unknown protocol \(Shown.quoted(text)); expected one of \(IPProtocol.names.joined(separator: ", ")) or a number 0..255\(NameSuggestion.hint(for: text, in: IPProtocol.names))")
                }
            case .number:
                proto = ObjectReader.integer(value, in: 0...255, at: path["protocol"], log: log).map { IPProtocol(number: UInt8($0)) }
            default:
                log.report(path["protocol"], "expected a protocol name or number, found \(value.typeName)")
                proto = nil
            }
            if proto == nil { ok = false }
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
            // Independent of the items: a bad item and a protocol without
            // ports are two problems.
            if let proto, !proto.hasPorts {
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
            if let proto, !proto.isICMP {
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
                    if let g = rr.string("group") {
                        remote = .group(g)
                        reference(.securityGroup, g, at: path["remote"]["group"])
                    } else {
                        ok = false
                    }
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
        // The IP family the rule's parts imply must agree; checked here, on
        // whichever of them are valid, so a rule's other problems don't hide it.
        if let ethertype, let proto {
            if case .cidr(let prefix) = remote, prefix.family != ethertype.family {
                log.report(path["ethertype"], "ethertype \(ethertype.rawValue) contradicts remote cidr \(prefix)")
                ok = false
            }
            if proto == .icmp && ethertype != .ipv4 || proto == .icmpv6 && ethertype != .ipv6 {
                log.report(path["ethertype"], "ethertype \(ethertype.rawValue) contradicts protocol \(proto)")
                ok = false
            }
        } else if ethertype == nil, !r.has("ethertype"), let proto, case .cidr(let prefix) = remote,
            proto == .icmp && prefix.family != .ipv4 || proto == .icmpv6 && prefix.family != .ipv6
        {
            log.report(path["remote"]["cidr"], "remote cidr \(prefix) contradicts protocol \(proto)")
            ok = false
        }
        guard let direction, let proto, ok else { return nil }
        return Rule(
            direction: direction, proto: proto, ports: ports, icmp: icmp, remote: remote,
            ethertype: ethertype, description: description)
    }

    private mutating func port(_ value: JSONValue, at path: JSONPath) -> Port? {
        guard
            let r = ObjectReader(
                value, at: path, log: log,
                knownKeys: [
                    "name", "host", "device", "network", "mac", "ips", "securityGroups", "allowedAddressPairs",
                    "portSecurity", "log",
                ])
        else { return nil }
        var ok = true
        let name = name(r)
        let host = r.string("host", required: true)
        let network = r.string("network", required: true)
        if let host { reference(.host, host, at: path["host"]) }
        if let network { reference(.network, network, at: path["network"]) }
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
        var facts = PolicyDraft.PortFacts(path: path, name: name, host: host, device: device, network: network, mac: mac)
        for (i, item) in (ipItems ?? []).enumerated() {
            guard let text = ObjectReader.string(item, at: path["ips"][i], log: log) else { ok = false; continue }
            if let ip = IPAddress(text) {
                ips.append(ip)
                facts.ips.append((i, ip))
            } else {
                log.report(path["ips"][i], "\"\(text)\" is not an IP address\(text.contains("/") ? " (ips are plain addresses; use allowedAddressPairs for prefixes)" : "")")
                ok = false
            }
        }
        var groups: [String] = []
        for (i, item) in (groupItems ?? []).enumerated() {
            guard let g = ObjectReader.string(item, at: path["securityGroups"][i], log: log) else { ok = false; continue }
            if groups.contains(g) {
                log.report(path["securityGroups"][i], "security group \(Shown.quoted(g)) is listed twice")
                ok = false
            } else {
                reference(.securityGroup, g, at: path["securityGroups"][i])
            }
            groups.append(g)
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
        facts.groups = groups
        draft.portFacts.append(facts)
        let portSecurity = r.bool("portSecurity")
        if portSecurity == nil && r.has("portSecurity") { ok = false }
        if portSecurity == false, let groupItems, !groupItems.isEmpty {
            log.report(path["securityGroups"], "a port with portSecurity false is not filtered, so it can't be in security groups")
            ok = false
        }
        let logged = r.bool("log")
        if logged == nil && r.has("log") { ok = false }
        if portSecurity == false, logged == true {
            log.report(path["log"], "a port with portSecurity false is not filtered, so it drops nothing to log")
            ok = false
        }
        guard ok, let name, let host, let network, let device, let mac else { return nil }
        return Port(
            name: name, host: host, device: device, network: network, mac: mac, ips: ips, securityGroups: groups,
            allowedAddressPairs: pairs, portSecurity: portSecurity ?? true, log: logged ?? false)
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
