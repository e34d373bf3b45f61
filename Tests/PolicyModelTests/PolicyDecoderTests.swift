import Testing
import PolicyModel
import PolicyYAML

// Table-driven tests of PolicyDecoder against policy-format.md, "Validation:
// every problem, each with its path". Every row is a small edit of one valid
// base policy and the diagnostics it must produce, path for path.

@Suite("PolicyDecoder: validation against policy-format.md") struct PolicyDecoderTests {}

// MARK: - The base policy

/// A valid policy that uses most of the format: a VLAN and a VXLAN network
/// with identical IPv4 subnets, two hosts with VTEPs, the VXLAN network
/// spanning both hosts, a stateless group, address pairs and a port without
/// port security. Shared with FuzzTests.
enum DecoderFixture {
    static let baseJSON = #"""
        {
          "version": 1,
          "networks": [
            {"name": "blue", "segment": {"type": "vlan", "id": 100}, "subnets": ["10.1.0.0/24", "fd00:1::/64"]},
            {"name": "red", "segment": {"type": "vxlan", "vni": 5001}, "subnets": ["10.1.0.0/24"]}
          ],
          "hosts": [
            {"name": "hv1", "uplink": "eth1", "vtep": "192.0.2.1"},
            {"name": "hv2", "uplink": "eth1", "vtep": "192.0.2.2"}
          ],
          "securityGroups": [
            {"name": "web", "description": "public web tier", "stateful": true, "rules": [
              {"direction": "ingress", "protocol": "tcp", "ports": ["80", "443"], "remote": {"cidr": "0.0.0.0/0"}},
              {"direction": "ingress", "protocol": "tcp", "ports": "22", "remote": {"group": "bastion"}},
              {"direction": "ingress", "protocol": "icmp", "icmp": {"type": 8}, "remote": {"group": "web"}},
              {"direction": "egress"}
            ]},
            {"name": "bastion", "rules": [{"direction": "egress", "protocol": "tcp", "ports": "22"}]},
            {"name": "cache", "stateful": false, "rules": [
              {"direction": "ingress", "protocol": "udp", "ports": "11211-11212", "remote": {"group": "cache"},
               "ethertype": "ipv4", "description": "memcached between peers"},
              {"direction": "egress", "protocol": 132, "remote": {"cidr": "fd00:1::/64"}},
              {"direction": "ingress", "protocol": "icmpv6", "icmp": {"type": 1, "code": 4}}
            ]}
          ],
          "ports": [
            {"name": "vm1", "host": "hv1", "device": "tap-vm1", "network": "blue",
             "mac": "52:54:00:00:01:01", "ips": ["10.1.0.11", "fd00:1::11"],
             "securityGroups": ["web"],
             "allowedAddressPairs": [{"ip": "10.1.0.100/32"}]},
            {"name": "vm2", "host": "hv1", "device": "tap-vm2", "network": "red",
             "mac": "52:54:00:00:02:01", "ips": ["10.1.0.21"], "securityGroups": ["cache"]},
            {"name": "vm3", "host": "hv2", "device": "tap-vm3", "network": "red",
             "mac": "52:54:00:00:02:02", "ips": ["10.1.0.22"], "securityGroups": ["cache"],
             "allowedAddressPairs": [{"ip": "10.1.0.200", "mac": "52:54:00:00:02:99"}]},
            {"name": "bastion1", "host": "hv2", "device": "tap-bastion1", "network": "blue",
             "mac": "52:54:00:00:01:05", "ips": ["10.1.0.5"], "securityGroups": ["bastion"]},
            {"name": "router", "host": "hv2", "device": "tap-router", "network": "blue",
             "mac": "52:54:00:00:01:fe", "ips": ["10.1.0.1"], "portSecurity": false}
          ]
        }
        """#

    static let base: JSONValue = json(baseJSON)

    /// Parses a JSON literal of a test; the literals are known to be valid.
    static func json(_ text: String) -> JSONValue {
        do {
            return try JSONParser.parse(Array(text.utf8))
        } catch {
            fatalError("bad JSON literal in a test: \(error)\n\(text)")
        }
    }
}

// MARK: - Editing a document at a path

/// One step of a path like `ports[3].securityGroups[0]`.
enum PolicyPathStep: Hashable, Sendable {
    case key(String)
    case index(Int)

    /// Splits the dotted path syntax of the diagnostics. Keys in tests are
    /// plain words (no '.' or '[').
    static func parse(_ path: String) -> [PolicyPathStep] {
        var steps: [PolicyPathStep] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: true) {
            var rest = Substring(part)
            if let bracket = rest.firstIndex(of: "[") {
                if bracket > rest.startIndex { steps.append(.key(String(rest[..<bracket]))) }
                rest = rest[bracket...]
                while rest.first == "[", let close = rest.firstIndex(of: "]") {
                    steps.append(.index(Int(rest[rest.index(after: rest.startIndex)..<close])!))
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                steps.append(.key(String(rest)))
            }
        }
        return steps
    }
}

/// An edit of a policy document. Paths use the diagnostics' syntax.
enum PolicyEdit: Sendable, CustomStringConvertible {
    /// Replaces the value at the path (the first member of that key), or adds
    /// the member when the object has no such key.
    case set(String, JSONValue)
    /// Removes every member of that key, or the array element.
    case remove(String)
    /// Appends a member to the object at the path, even if the key exists.
    case addMember(String, key: String, JSONValue)
    /// Appends an element to the array at the path.
    case append(String, JSONValue)

    func apply(to document: JSONValue) -> JSONValue {
        switch self {
        case .set(let path, let value):
            return Self.edit(document, PolicyPathStep.parse(path)[...]) { _ in value }
        case .remove(let path):
            var steps = PolicyPathStep.parse(path)
            let last = steps.removeLast()
            return Self.edit(document, steps[...]) { container in
                switch (container, last) {
                case (.object(let members)?, .key(let key)): return .object(members.filter { $0.key != key })
                case (.array(var elements)?, .index(let i)):
                    elements.remove(at: i)
                    return .array(elements)
                default: fatalError("can't remove \(path)")
                }
            }
        case .addMember(let path, let key, let value):
            return Self.edit(document, PolicyPathStep.parse(path)[...]) { container in
                guard case .object(let members)? = container else { fatalError("\(path) is not an object") }
                return .object(members + [JSONMember(key: key, value: value)])
            }
        case .append(let path, let value):
            return Self.edit(document, PolicyPathStep.parse(path)[...]) { container in
                guard case .array(let elements)? = container else { fatalError("\(path) is not an array") }
                return .array(elements + [value])
            }
        }
    }

    static func apply(_ edits: [PolicyEdit], to document: JSONValue) -> JSONValue {
        edits.reduce(document) { $1.apply(to: $0) }
    }

    /// Rebuilds `value` with the node at `steps` replaced by `change(node)`
    /// (nil when the last key is absent).
    private static func edit(
        _ value: JSONValue?, _ steps: ArraySlice<PolicyPathStep>, _ change: (JSONValue?) -> JSONValue
    ) -> JSONValue {
        guard let step = steps.first else { return change(value) }
        switch (value, step) {
        case (.object(var members)?, .key(let key)):
            if let i = members.firstIndex(where: { $0.key == key }) {
                members[i].value = edit(members[i].value, steps.dropFirst(), change)
            } else {
                members.append(JSONMember(key: key, value: edit(nil, steps.dropFirst(), change)))
            }
            return .object(members)
        case (.array(var elements)?, .index(let i)):
            elements[i] = edit(elements[i], steps.dropFirst(), change)
            return .array(elements)
        default:
            fatalError("path step \(step) does not fit \(String(describing: value))")
        }
    }

    var description: String {
        switch self {
        case .set(let path, let value): "set \(path.isEmpty ? "document" : path) = \(value.serialized())"
        case .remove(let path): "remove \(path)"
        case .addMember(let path, let key, let value): "add \(path.isEmpty ? "" : path + ".")\(key) = \(value.serialized())"
        case .append(let path, let value): "append to \(path): \(value.serialized())"
        }
    }
}

private func j(_ text: String) -> JSONValue { DecoderFixture.json(text) }
private func s(_ text: String) -> JSONValue { .string(text) }
private func n(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }

private func decodeBase(_ edits: [PolicyEdit]) -> Result<Policy, PolicyError> {
    PolicyDecoder.decode(PolicyEdit.apply(edits, to: DecoderFixture.base))
}

// MARK: - The base policy decodes

extension PolicyDecoderTests {
    @Test func basePolicyDecodes() throws {
        let policy = try PolicyDecoder.decode(json: DecoderFixture.baseJSON).get()
        #expect(policy.version == 1)
        #expect(policy.networks == [
            Network(name: "blue", segment: .vlan(id: 100), subnets: [IPPrefix("10.1.0.0/24")!, IPPrefix("fd00:1::/64")!]),
            Network(name: "red", segment: .vxlan(vni: 5001), subnets: [IPPrefix("10.1.0.0/24")!]),
        ])
        #expect(policy.hosts == [
            Host(name: "hv1", uplink: "eth1", vtep: IPAddress("192.0.2.1")),
            Host(name: "hv2", uplink: "eth1", vtep: IPAddress("192.0.2.2")),
        ])
        #expect(policy.securityGroups.map(\.name) == ["web", "bastion", "cache"])
        #expect(policy.securityGroups.map(\.stateful) == [true, true, false])
        #expect(policy.securityGroups[0].description == "public web tier")
        #expect(policy.securityGroups[0].rules == [
            Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80), PortRange(443)], remote: .cidr(IPPrefix("0.0.0.0/0")!)),
            Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .group("bastion")),
            Rule(direction: .ingress, proto: .icmp, icmp: ICMPMatch(type: 8), remote: .group("web")),
            Rule(direction: .egress),
        ])
        #expect(policy.securityGroups[2].rules == [
            Rule(direction: .ingress, proto: .udp, ports: [PortRange(11211, 11212)], remote: .group("cache"),
                 ethertype: .ipv4, description: "memcached between peers"),
            Rule(direction: .egress, proto: .sctp, remote: .cidr(IPPrefix("fd00:1::/64")!)),
            Rule(direction: .ingress, proto: .icmpv6, icmp: ICMPMatch(type: 1, code: 4)),
        ])
        #expect(policy.ports.map(\.name) == ["vm1", "vm2", "vm3", "bastion1", "router"])
        #expect(policy.ports[0] == Port(
            name: "vm1", host: "hv1", device: "tap-vm1", network: "blue", mac: MACAddress("52:54:00:00:01:01")!,
            ips: [IPAddress("10.1.0.11")!, IPAddress("fd00:1::11")!], securityGroups: ["web"],
            allowedAddressPairs: [AddressPair(ip: IPPrefix("10.1.0.100/32")!)]))
        #expect(policy.ports[2].allowedAddressPairs == [
            AddressPair(ip: IPPrefix(host: IPAddress("10.1.0.200")!), mac: MACAddress("52:54:00:00:02:99")!),
        ])
        #expect(policy.ports.map(\.portSecurity) == [true, true, true, true, false])
        // The tree and the text decode the same way, and the encoder round-trips.
        #expect(PolicyDecoder.decode(DecoderFixture.base) == .success(policy))
        #expect(PolicyDecoder.decode(PolicyEncoder.encode(policy)) == .success(policy))
    }
}

// MARK: - Error rows

struct ExpectedDiagnostic: Sendable, CustomStringConvertible {
    let path: String
    /// A substring of the message, or the whole message when `exact`.
    let message: String
    let exact: Bool

    func matches(_ d: Diagnostic) -> Bool {
        d.path == path && (exact ? d.message == message : d.message.contains(message))
    }

    var description: String { "\(path): \(exact ? "" : "…")\(message)\(exact ? "" : "…")" }
}

struct DecoderErrorRow: Sendable, CustomTestStringConvertible {
    let label: String
    let edits: [PolicyEdit]
    let expected: [ExpectedDiagnostic]

    /// One diagnostic at `path` whose message contains `message`.
    init(_ label: String, _ edits: [PolicyEdit], _ path: String, _ message: String) {
        self.init(label, edits, [(path, message)])
    }

    /// One diagnostic at `path` with exactly this message.
    init(_ label: String, _ edits: [PolicyEdit], _ path: String, exactly message: String) {
        self.label = label
        self.edits = edits
        self.expected = [ExpectedDiagnostic(path: path, message: message, exact: true)]
    }

    /// Several diagnostics, in this order.
    init(_ label: String, _ edits: [PolicyEdit], _ expected: [(String, String)]) {
        self.label = label
        self.edits = edits
        self.expected = expected.map { ExpectedDiagnostic(path: $0.0, message: $0.1, exact: false) }
    }

    var testDescription: String { label }
}

/// Shortcut: the base document with a member added to an object.
private func add(_ path: String, _ key: String, _ value: JSONValue) -> PolicyEdit { .addMember(path, key: key, value) }

private let unknownFieldRows: [DecoderErrorRow] = [
    .init("unknown top-level field", [add("", "network", j("[]"))],
          "network", exactly: #"unknown field (did you mean "networks"?)"#),
    .init("unknown top-level field without suggestion", [add("", "tenants", j("[]"))],
          "tenants", exactly: "unknown field"),
    .init("unknown network field", [add("networks[0]", "subnet", j(#"["10.9.0.0/24"]"#))],
          "networks[0].subnet", exactly: #"unknown field (did you mean "subnets"?)"#),
    .init("unknown segment field", [add("networks[0].segment", "vid", n(5))],
          "networks[0].segment.vid", exactly: #"unknown field (did you mean "id"?)"#),
    .init("unknown host field", [add("hosts[1]", "vtpe", s("192.0.2.9"))],
          "hosts[1].vtpe", exactly: #"unknown field (did you mean "vtep"?)"#),
    .init("unknown group field", [add("securityGroups[1]", "rule", j("[]"))],
          "securityGroups[1].rule", exactly: #"unknown field (did you mean "rules"?)"#),
    .init("unknown rule field", [add("securityGroups[0].rules[3]", "port", s("80"))],
          "securityGroups[0].rules[3].port", exactly: #"unknown field (did you mean "ports"?)"#),
    .init("unknown rule field, case", [add("securityGroups[0].rules[3]", "Direction", s("egress"))],
          "securityGroups[0].rules[3].Direction", exactly: #"unknown field (did you mean "direction"?)"#),
    .init("unknown icmp field", [add("securityGroups[0].rules[2].icmp", "cod", n(0))],
          "securityGroups[0].rules[2].icmp.cod", exactly: #"unknown field (did you mean "code"?)"#),
    .init("unknown remote field", [add("securityGroups[0].rules[0].remote", "grop", s("web"))],
          "securityGroups[0].rules[0].remote.grop", exactly: #"unknown field (did you mean "group"?)"#),
    .init("unknown port field", [add("ports[2]", "securityGroup", j(#"["cache"]"#))],
          "ports[2].securityGroup", exactly: #"unknown field (did you mean "securityGroups"?)"#),
    .init("unknown port field, snake case", [add("ports[0]", "port_security", .bool(true))],
          "ports[0].port_security", exactly: #"unknown field (did you mean "portSecurity"?)"#),
    .init("unknown address pair field", [add("ports[0].allowedAddressPairs[0]", "mca", s("52:54:00:00:01:02"))],
          "ports[0].allowedAddressPairs[0].mca", exactly: #"unknown field (did you mean "mac"?)"#),
]

private let missingFieldRows: [DecoderErrorRow] = [
    .init("missing version", [.remove("version")], "", exactly: #"missing required field "version""#),
    .init("missing network segment", [.remove("networks[0].segment")],
          "networks[0]", exactly: #"missing required field "segment""#),
    .init("missing segment type", [.remove("networks[0].segment.type")],
          "networks[0].segment", exactly: #"missing required field "type""#),
    .init("missing vlan id", [.remove("networks[0].segment.id")],
          "networks[0].segment", exactly: #"missing required field "id""#),
    .init("missing vxlan vni", [.remove("networks[1].segment.vni")],
          "networks[1].segment", exactly: #"missing required field "vni""#),
    // Without its name the network is not "blue": the ports on "blue" refer
    // to a network that does not exist, which is reported too.
    .init("missing network name", [.remove("networks[0].name")],
          [("networks[0]", #"missing required field "name""#),
           ("ports[0].network", #"unknown network "blue""#),
           ("ports[3].network", #"unknown network "blue""#),
           ("ports[4].network", #"unknown network "blue""#)]),
    .init("missing host name of an unused host", [.append("hosts", j(#"{"uplink": "eth1"}"#))],
          "hosts[2]", exactly: #"missing required field "name""#),
    .init("missing group name of an unused group", [.append("securityGroups", j(#"{"rules": []}"#))],
          "securityGroups[3]", exactly: #"missing required field "name""#),
    .init("missing rule direction", [.remove("securityGroups[0].rules[3].direction")],
          "securityGroups[0].rules[3]", exactly: #"missing required field "direction""#),
    .init("missing icmp type", [.set("securityGroups[0].rules[2].icmp", j(#"{"code": 0}"#))],
          "securityGroups[0].rules[2].icmp", exactly: #"missing required field "type""#),
    .init("missing port name", [.remove("ports[1].name")], "ports[1]", exactly: #"missing required field "name""#),
    .init("missing port host", [.remove("ports[1].host")], "ports[1]", exactly: #"missing required field "host""#),
    .init("missing port device", [.remove("ports[1].device")], "ports[1]", exactly: #"missing required field "device""#),
    .init("missing port network", [.remove("ports[1].network")], "ports[1]", exactly: #"missing required field "network""#),
    .init("missing port mac", [.remove("ports[1].mac")], "ports[1]", exactly: #"missing required field "mac""#),
    .init("missing address pair ip", [.set("ports[0].allowedAddressPairs[0]", j(#"{"mac": "52:54:00:00:01:09"}"#))],
          "ports[0].allowedAddressPairs[0]", exactly: #"missing required field "ip""#),
    // At one path, in the order of their messages.
    .init("several missing fields of one port", [.set("ports[1]", j(#"{"name": "vm2", "network": "red"}"#))],
          [("ports[1]", #"missing required field "device""#),
           ("ports[1]", #"missing required field "host""#),
           ("ports[1]", #"missing required field "mac""#)]),
]

private let wrongTypeRows: [DecoderErrorRow] = [
    // top
    .init("document is a list", [.set("", j("[]"))], "", exactly: "expected an object, found array"),
    .init("version is a string", [.set("version", s("1"))], "version", #"expected the integer 1, found "1""#),
    .init("version is a fraction", [.set("version", j("1.0"))], "version", "expected the integer 1, found 1.0"),
    .init("version is a list", [.set("version", j("[1]"))], "version", "expected the integer 1, found array"),
    .init("networks is an object", [.set("networks", j("{}"))], "networks", exactly: "expected a list, found object"),
    .init("hosts is a string", [.set("hosts", s("hv1"))], "hosts", exactly: "expected a list, found string"),
    .init("securityGroups is null", [.set("securityGroups", .null)],
          "securityGroups", exactly: "expected a list, found null"),
    .init("ports is a number", [.set("ports", n(5))], "ports", exactly: "expected a list, found number"),
    // network
    .init("network is a string", [.append("networks", s("green"))], "networks[2]", exactly: "expected an object, found string"),
    .init("network name is a number", [.append("networks", j(#"{"name": 7, "segment": {"type": "vlan", "id": 7}}"#))],
          "networks[2].name", exactly: "expected a string, found number"),
    .init("subnets is a string", [.set("networks[0].subnets", s("10.1.0.0/24"))],
          "networks[0].subnets", exactly: "expected a list, found string"),
    .init("subnet is a number", [.set("networks[0].subnets[1]", n(64))],
          "networks[0].subnets[1]", exactly: "expected a string, found number"),
    // segment
    .init("segment is a string", [.set("networks[0].segment", s("vlan 100"))],
          "networks[0].segment", exactly: "expected an object, found string"),
    .init("segment type is a number", [.set("networks[0].segment.type", n(1))],
          "networks[0].segment.type", exactly: "expected a string, found number"),
    .init("segment type unknown", [.set("networks[0].segment.type", s("vlna"))],
          "networks[0].segment.type", #"unknown segment type "vlna"; expected "vlan" or "vxlan""#),
    .init("vlan id is a string", [.set("networks[0].segment.id", s("100"))],
          "networks[0].segment.id", exactly: "expected an integer, found string"),
    .init("vlan id is a fraction", [.set("networks[0].segment.id", j("100.5"))],
          "networks[0].segment.id", exactly: "expected an integer, found 100.5"),
    .init("vlan id 0", [.set("networks[0].segment.id", n(0))],
          "networks[0].segment.id", exactly: "0 is out of range 1..4094"),
    .init("vlan id 4095", [.set("networks[0].segment.id", n(4095))],
          "networks[0].segment.id", exactly: "4095 is out of range 1..4094"),
    .init("vlan id beyond Int", [.set("networks[0].segment.id", j("123456789012345678901234567890"))],
          "networks[0].segment.id", "out of range 1..4094"),
    .init("vni 0", [.set("networks[1].segment.vni", n(0))],
          "networks[1].segment.vni", exactly: "0 is out of range 1..16777215"),
    .init("vni 2^24", [.set("networks[1].segment.vni", n(16_777_216))],
          "networks[1].segment.vni", exactly: "16777216 is out of range 1..16777215"),
    .init("vlan segment with vni", [.set("networks[0].segment", j(#"{"type": "vlan", "vni": 100}"#))],
          [("networks[0].segment", #"missing required field "id""#),
           ("networks[0].segment.vni", #""vni" belongs to vxlan segments"#)]),
    .init("vxlan segment with id", [add("networks[1].segment", "id", n(5))],
          "networks[1].segment.id", #""id" belongs to vlan segments"#),
    // host
    .init("host is a list", [.append("hosts", j("[]"))], "hosts[2]", exactly: "expected an object, found array"),
    .init("uplink is a boolean", [.set("hosts[0].uplink", .bool(true))],
          "hosts[0].uplink", exactly: "expected a string, found boolean"),
    .init("vtep is a number", [.set("hosts[0].vtep", n(1))], "hosts[0].vtep", exactly: "expected a string, found number"),
    // group
    .init("group is a string", [.append("securityGroups", s("db"))],
          "securityGroups[3]", exactly: "expected an object, found string"),
    .init("stateful is a string", [.set("securityGroups[2].stateful", s("false"))],
          "securityGroups[2].stateful", exactly: "expected true or false, found string"),
    .init("rules is an object", [.set("securityGroups[1].rules", j(#"{"direction": "egress"}"#))],
          "securityGroups[1].rules", exactly: "expected a list, found object"),
    .init("group description is a number", [.set("securityGroups[0].description", n(1))],
          "securityGroups[0].description", exactly: "expected a string, found number"),
    // rule
    .init("rule is a string", [.set("securityGroups[0].rules[3]", s("allow all"))],
          "securityGroups[0].rules[3]", exactly: "expected an object, found string"),
    .init("direction is a number", [.set("securityGroups[0].rules[3].direction", n(1))],
          "securityGroups[0].rules[3].direction", exactly: "expected a string, found number"),
    .init("direction misspelled", [.set("securityGroups[0].rules[0].direction", s("ingres"))],
          "securityGroups[0].rules[0].direction", #"unknown direction "ingres"; expected "ingress" or "egress" (did you mean "ingress"?)"#),
    .init("protocol is a boolean", [.set("securityGroups[0].rules[0].protocol", .bool(true))],
          "securityGroups[0].rules[0].protocol", exactly: "expected a protocol name or number, found boolean"),
    .init("protocol misspelled", [.set("securityGroups[0].rules[0].protocol", s("tpc"))],
          "securityGroups[0].rules[0].protocol", #"unknown protocol "tpc"; expected one of any, tcp, udp, sctp, icmp, icmpv6 or a number 0..255 (did you mean "tcp"?)"#),
    .init("protocol 256", [.set("securityGroups[0].rules[3].protocol", n(256))],
          "securityGroups[0].rules[3].protocol", exactly: "256 is out of range 0..255"),
    .init("protocol -1", [.set("securityGroups[0].rules[3].protocol", n(-1))],
          "securityGroups[0].rules[3].protocol", exactly: "-1 is out of range 0..255"),
    .init("ports is a number", [.set("securityGroups[0].rules[1].ports", n(22))],
          "securityGroups[0].rules[1].ports", exactly: #"expected a string like "22" or "8000-8100", found number"#),
    .init("port list item is a number", [.set("securityGroups[0].rules[0].ports[1]", n(443))],
          "securityGroups[0].rules[0].ports[1]", exactly: #"expected a string like "22" or "8000-8100", found number"#),
    .init("icmp is a number", [.set("securityGroups[0].rules[2].icmp", n(8))],
          "securityGroups[0].rules[2].icmp", exactly: "expected an object, found number"),
    .init("icmp type is a string", [.set("securityGroups[0].rules[2].icmp.type", s("echo-request"))],
          "securityGroups[0].rules[2].icmp.type", exactly: "expected an integer, found string"),
    .init("icmp code 256", [add("securityGroups[0].rules[2].icmp", "code", n(256))],
          "securityGroups[0].rules[2].icmp.code", exactly: "256 is out of range 0..255"),
    .init("remote is a string", [.set("securityGroups[0].rules[0].remote", s("0.0.0.0/0"))],
          "securityGroups[0].rules[0].remote", exactly: "expected an object, found string"),
    .init("remote cidr is a number", [.set("securityGroups[0].rules[0].remote.cidr", n(0))],
          "securityGroups[0].rules[0].remote.cidr", exactly: "expected a string, found number"),
    .init("remote group is a list", [.set("securityGroups[0].rules[1].remote.group", j(#"["bastion"]"#))],
          "securityGroups[0].rules[1].remote.group", exactly: "expected a string, found array"),
    .init("remote with cidr and group", [add("securityGroups[0].rules[1].remote", "cidr", s("10.0.0.0/8"))],
          "securityGroups[0].rules[1].remote", #"give either "cidr" or "group", not both"#),
    .init("empty remote", [.set("securityGroups[0].rules[1].remote", j("{}"))],
          "securityGroups[0].rules[1].remote", #"needs "cidr" or "group""#),
    .init("ethertype is a number", [.set("securityGroups[2].rules[0].ethertype", n(4))],
          "securityGroups[2].rules[0].ethertype", exactly: "expected a string, found number"),
    .init("ethertype unknown", [.set("securityGroups[2].rules[0].ethertype", s("IPv4"))],
          "securityGroups[2].rules[0].ethertype", #"unknown ethertype "IPv4"; expected "ipv4" or "ipv6""#),
    .init("rule description is a boolean", [.set("securityGroups[2].rules[0].description", .bool(false))],
          "securityGroups[2].rules[0].description", exactly: "expected a string, found boolean"),
    // port
    .init("port is a number", [.append("ports", n(5))], "ports[5]", exactly: "expected an object, found number"),
    .init("port name is null", [.set("ports[0].name", .null)], "ports[0].name", exactly: "expected a string, found null"),
    .init("port host is a number", [.set("ports[0].host", n(1))], "ports[0].host", exactly: "expected a string, found number"),
    .init("port device is an object", [.set("ports[0].device", j("{}"))],
          "ports[0].device", exactly: "expected a string, found object"),
    .init("port network is a list", [.set("ports[0].network", j(#"["blue"]"#))],
          "ports[0].network", exactly: "expected a string, found array"),
    .init("port mac is a number", [.set("ports[0].mac", n(525400))], "ports[0].mac", exactly: "expected a string, found number"),
    .init("ips is a string", [.set("ports[0].ips", s("10.1.0.11"))], "ports[0].ips", exactly: "expected a list, found string"),
    .init("ip is a number", [.set("ports[0].ips[1]", n(11))], "ports[0].ips[1]", exactly: "expected a string, found number"),
    .init("securityGroups is a string", [.set("ports[0].securityGroups", s("web"))],
          "ports[0].securityGroups", exactly: "expected a list, found string"),
    .init("security group is a number", [.set("ports[0].securityGroups[0]", n(1))],
          "ports[0].securityGroups[0]", exactly: "expected a string, found number"),
    .init("allowedAddressPairs is an object", [.set("ports[0].allowedAddressPairs", j(#"{"ip": "10.1.0.100"}"#))],
          "ports[0].allowedAddressPairs", exactly: "expected a list, found object"),
    .init("portSecurity is a string", [.set("ports[4].portSecurity", s("false"))],
          "ports[4].portSecurity", exactly: "expected true or false, found string"),
    // address pair
    .init("address pair is a string", [.set("ports[0].allowedAddressPairs[0]", s("10.1.0.100/32"))],
          "ports[0].allowedAddressPairs[0]", exactly: "expected an object, found string"),
    .init("address pair ip is a number", [.set("ports[0].allowedAddressPairs[0].ip", n(10))],
          "ports[0].allowedAddressPairs[0].ip", exactly: "expected a string, found number"),
    .init("address pair mac is a boolean", [.set("ports[2].allowedAddressPairs[0].mac", .bool(true))],
          "ports[2].allowedAddressPairs[0].mac", exactly: "expected a string, found boolean"),
]

/// A port that can be appended to the base without any conflict.
private let extraPort = j(#"""
    {"name": "vm9", "host": "hv1", "device": "tap-vm9", "network": "blue", "mac": "52:54:00:00:01:09", "ips": ["10.1.0.9"]}
    """#)

private let duplicateRows: [DecoderErrorRow] = [
    .init("duplicate network name",
          [.append("networks", j(#"{"name": "blue", "segment": {"type": "vlan", "id": 200}}"#))],
          "networks[2].name", exactly: #"duplicate network name "blue" (first used at networks[0])"#),
    .init("duplicate host name", [.append("hosts", j(#"{"name": "hv1", "vtep": "192.0.2.9"}"#))],
          "hosts[2].name", exactly: #"duplicate host name "hv1" (first used at hosts[0])"#),
    .init("duplicate group name", [.append("securityGroups", j(#"{"name": "web", "rules": []}"#))],
          "securityGroups[3].name", exactly: #"duplicate security group name "web" (first used at securityGroups[0])"#),
    .init("duplicate port name", [.append("ports", PolicyEdit.set("name", s("vm2")).apply(to: extraPort))],
          "ports[5].name", exactly: #"duplicate port name "vm2" (first used at ports[1])"#),
    .init("duplicate name of a broken network is still a duplicate",
          [.append("networks", j(#"{"name": "red", "segment": {"type": "vlan", "id": 5000}}"#))],
          [("networks[2].name", #"duplicate network name "red" (first used at networks[1])"#),
           ("networks[2].segment.id", "5000 is out of range 1..4094")]),
    // duplicate JSON keys: the first member counts, the second is reported
    .init("duplicate top-level key", [add("", "version", n(1))], "version", exactly: #"duplicate key "version""#),
    .init("duplicate key in a network", [add("networks[0]", "name", s("green"))],
          "networks[0].name", exactly: #"duplicate key "name""#),
    .init("duplicate key in a segment", [add("networks[0].segment", "id", n(100))],
          "networks[0].segment.id", exactly: #"duplicate key "id""#),
    .init("duplicate key in a host", [add("hosts[0]", "vtep", s("192.0.2.1"))], "hosts[0].vtep", exactly: #"duplicate key "vtep""#),
    .init("duplicate key in a group", [add("securityGroups[2]", "stateful", .bool(true))],
          "securityGroups[2].stateful", exactly: #"duplicate key "stateful""#),
    .init("duplicate key in a rule", [add("securityGroups[0].rules[3]", "direction", s("ingress"))],
          "securityGroups[0].rules[3].direction", exactly: #"duplicate key "direction""#),
    .init("duplicate key in a port", [add("ports[0]", "mac", s("52:54:00:00:01:02"))],
          "ports[0].mac", exactly: #"duplicate key "mac""#),
    .init("duplicate key in an address pair", [add("ports[0].allowedAddressPairs[0]", "ip", s("10.1.0.101"))],
          "ports[0].allowedAddressPairs[0].ip", exactly: #"duplicate key "ip""#),
    .init("duplicated unknown key", [add("ports[0]", "colour", s("red")), add("ports[0]", "colour", s("blue"))],
          [("ports[0].colour", "unknown field"), ("ports[0].colour", #"duplicate key "colour""#)]),
]

private let addressRows: [DecoderErrorRow] = [
    // CIDR
    .init("subnet without length", [.set("networks[0].subnets[0]", s("10.1.0.0"))],
          "networks[0].subnets[0]", exactly: #""10.1.0.0" has no prefix length (did you mean "10.1.0.0/32"?)"#),
    .init("subnet with host bits", [.set("networks[0].subnets[0]", s("10.1.0.1/24"))],
          "networks[0].subnets[0]", exactly: #""10.1.0.1/24" has host bits set (did you mean "10.1.0.0/24"?)"#),
    .init("IPv6 subnet with host bits", [.set("networks[0].subnets[1]", s("fd00:1::1/64"))],
          "networks[0].subnets[1]", #"has host bits set (did you mean "fd00:1::/64"?)"#),
    .init("subnet length 33", [.set("networks[0].subnets[0]", s("10.1.0.0/33"))],
          "networks[0].subnets[0]", "prefix length 33 is out of range for IPv4 (0...32)"),
    .init("subnet length not a number", [.set("networks[0].subnets[0]", s("10.1.0.0/x"))],
          "networks[0].subnets[0]", #"prefix length "x" is not a number"#),
    .init("subnet address malformed", [.set("networks[0].subnets[0]", s("10.1.0/24"))],
          "networks[0].subnets[0]", #""10.1.0" is not an IP address"#),
    .init("remote cidr with host bits", [.set("securityGroups[0].rules[0].remote.cidr", s("0.0.0.1/0"))],
          "securityGroups[0].rules[0].remote.cidr", #"has host bits set (did you mean "0.0.0.0/0"?)"#),
    .init("remote cidr is a bare address", [.set("securityGroups[0].rules[0].remote.cidr", s("192.0.2.7"))],
          "securityGroups[0].rules[0].remote.cidr", "has no prefix length"),
    .init("address pair malformed", [.set("ports[0].allowedAddressPairs[0].ip", s("10.1.0.300"))],
          "ports[0].allowedAddressPairs[0].ip", exactly: #""10.1.0.300" is not an IP address or CIDR prefix"#),
    .init("address pair with host bits", [.set("ports[0].allowedAddressPairs[0].ip", s("10.1.0.100/24"))],
          "ports[0].allowedAddressPairs[0].ip", "has host bits set"),
    // addresses
    .init("port ip malformed", [.set("ports[0].ips[0]", s("10.1.0.256"))],
          "ports[0].ips[0]", exactly: #""10.1.0.256" is not an IP address"#),
    .init("port ip with leading zero", [.set("ports[0].ips[0]", s("10.1.0.011"))],
          "ports[0].ips[0]", exactly: #""10.1.0.011" is not an IP address"#),
    .init("port ip is a prefix", [.set("ports[0].ips[0]", s("10.1.0.11/32"))],
          "ports[0].ips[0]", "(ips are plain addresses; use allowedAddressPairs for prefixes)"),
    .init("IPv6 port ip malformed", [.set("ports[0].ips[1]", s("fd00:1:::11"))],
          "ports[0].ips[1]", exactly: #""fd00:1:::11" is not an IP address"#),
    .init("vtep malformed", [.set("hosts[1].vtep", s("192.0.2"))], "hosts[1].vtep", exactly: #""192.0.2" is not an IP address"#),
    // MAC
    .init("mac too short", [.set("ports[0].mac", s("52:54:00:00:01"))],
          "ports[0].mac", exactly: #""52:54:00:00:01" is not a MAC address (expected six hex octets like 52:54:00:12:34:56)"#),
    .init("mac with a bad digit", [.set("ports[0].mac", s("52:54:00:00:01:0g"))], "ports[0].mac", "is not a MAC address"),
    .init("mac with mixed separators", [.set("ports[0].mac", s("52:54-00:00:01:01"))], "ports[0].mac", "is not a MAC address"),
    .init("multicast mac", [.set("ports[0].mac", s("01:00:5e:00:00:01"))],
          "ports[0].mac", exactly: "01:00:5e:00:00:01 is a multicast MAC address; a port needs a unicast one"),
    .init("broadcast mac", [.set("ports[0].mac", s("FF:FF:FF:FF:FF:FF"))],
          "ports[0].mac", "ff:ff:ff:ff:ff:ff is a multicast MAC address"),
    .init("all-zero mac", [.set("ports[0].mac", s("00-00-00-00-00-00"))],
          "ports[0].mac", exactly: "00:00:00:00:00:00 is the all-zero MAC address"),
    .init("multicast address pair mac", [.set("ports[2].allowedAddressPairs[0].mac", s("33:33:00:00:00:01"))],
          "ports[2].allowedAddressPairs[0].mac", "is a multicast MAC address"),
    .init("malformed address pair mac", [.set("ports[2].allowedAddressPairs[0].mac", s("52:54:00:00:02"))],
          "ports[2].allowedAddressPairs[0].mac", "is not a MAC address"),
]

private let ruleRows: [DecoderErrorRow] = [
    // port ranges
    .init("port 0", [.set("securityGroups[0].rules[1].ports", s("0"))],
          "securityGroups[0].rules[1].ports", exactly: #"port 0 in "0" is out of range 1-65535"#),
    .init("port 65536", [.set("securityGroups[0].rules[1].ports", s("65536"))],
          "securityGroups[0].rules[1].ports", exactly: #"port 65536 in "65536" is out of range 1-65535"#),
    .init("port range 90-80", [.set("securityGroups[0].rules[1].ports", s("90-80"))],
          "securityGroups[0].rules[1].ports", exactly: #"port range "90-80" ends before it starts"#),
    .init("port abc", [.set("securityGroups[0].rules[1].ports", s("abc"))],
          "securityGroups[0].rules[1].ports", exactly: #""abc" is not a port or a port range "N-M""#),
    .init("port range 1-2-3", [.set("securityGroups[0].rules[1].ports", s("1-2-3"))],
          "securityGroups[0].rules[1].ports", #""1-2-3" is not a port"#),
    .init("port range with spaces", [.set("securityGroups[0].rules[1].ports", s("80 - 90"))],
          "securityGroups[0].rules[1].ports", "is not a port"),
    .init("empty port", [.set("securityGroups[0].rules[1].ports", s(""))],
          "securityGroups[0].rules[1].ports", "is not a port"),
    .init("bad item in a port list", [.set("securityGroups[0].rules[0].ports[1]", s("0-443"))],
          "securityGroups[0].rules[0].ports[1]", exactly: #"port 0 in "0-443" is out of range 1-65535"#),
    .init("two bad items in a port list", [.set("securityGroups[0].rules[0].ports", j(#"["65536", "90-80"]"#))],
          [("securityGroups[0].rules[0].ports[0]", "out of range"), ("securityGroups[0].rules[0].ports[1]", "ends before it starts")]),
    .init("empty port list", [.set("securityGroups[0].rules[0].ports", j("[]"))],
          "securityGroups[0].rules[0].ports", #"empty list of ports; leave "ports" out to match every port"#),
    // ports on a protocol without ports
    .init("ports with icmp", [add("securityGroups[0].rules[2]", "ports", s("80"))],
          "securityGroups[0].rules[2].ports", exactly: "ports are only allowed with protocol tcp, udp or sctp, not icmp"),
    .init("ports with any", [add("securityGroups[0].rules[3]", "ports", j(#"["80"]"#))],
          "securityGroups[0].rules[3].ports", exactly: "ports are only allowed with protocol tcp, udp or sctp, not any"),
    .init("ports with protocol any", [add("securityGroups[0].rules[3]", "protocol", s("any")), add("securityGroups[0].rules[3]", "ports", s("80"))],
          "securityGroups[0].rules[3].ports", "not any"),
    .init("ports with protocol 47", [add("securityGroups[0].rules[3]", "protocol", n(47)), add("securityGroups[0].rules[3]", "ports", s("80"))],
          "securityGroups[0].rules[3].ports", exactly: "ports are only allowed with protocol tcp, udp or sctp, not 47"),
    .init("ports with protocol 58 (icmpv6)", [add("securityGroups[0].rules[3]", "protocol", n(58)), add("securityGroups[0].rules[3]", "ports", s("80"))],
          "securityGroups[0].rules[3].ports", "not icmpv6"),
    // icmp on other protocols
    .init("icmp with tcp", [add("securityGroups[0].rules[0]", "icmp", j(#"{"type": 8}"#))],
          "securityGroups[0].rules[0].icmp", exactly: #""icmp" is only allowed with protocol icmp or icmpv6, not tcp"#),
    .init("icmp without protocol", [add("securityGroups[0].rules[3]", "icmp", j(#"{"type": 8}"#))],
          "securityGroups[0].rules[3].icmp", #""icmp" is only allowed with protocol icmp or icmpv6, not any"#),
    .init("icmp with protocol 47", [add("securityGroups[0].rules[3]", "protocol", n(47)), add("securityGroups[0].rules[3]", "icmp", j(#"{"type": 8}"#))],
          "securityGroups[0].rules[3].icmp", "not 47"),
    // ethertype contradictions
    .init("ethertype ipv6 with an IPv4 cidr", [add("securityGroups[0].rules[0]", "ethertype", s("ipv6"))],
          "securityGroups[0].rules[0].ethertype", exactly: "ethertype ipv6 contradicts remote cidr 0.0.0.0/0"),
    .init("ethertype ipv4 with an IPv6 cidr", [add("securityGroups[2].rules[1]", "ethertype", s("ipv4"))],
          "securityGroups[2].rules[1].ethertype", exactly: "ethertype ipv4 contradicts remote cidr fd00:1::/64"),
    .init("ethertype ipv6 with icmp", [add("securityGroups[0].rules[2]", "ethertype", s("ipv6"))],
          "securityGroups[0].rules[2].ethertype", exactly: "ethertype ipv6 contradicts protocol icmp"),
    .init("IPv6 cidr with icmp", [.set("securityGroups[0].rules[2].remote", j(#"{"cidr": "::/0"}"#))],
          "securityGroups[0].rules[2].remote.cidr", exactly: "remote cidr ::/0 contradicts protocol icmp"),
]

private let referenceRows: [DecoderErrorRow] = [
    .init("unknown security group of a port", [.set("ports[3].securityGroups[0]", s("wbe"))],
          "ports[3].securityGroups[0]", exactly: #"unknown security group "wbe" (did you mean "web"?)"#),
    .init("unknown network of a port", [.set("ports[0].network", s("bleu"))],
          "ports[0].network", exactly: #"unknown network "bleu" (did you mean "blue"?)"#),
    .init("unknown network, no suggestion", [.set("ports[0].network", s("purple"))],
          "ports[0].network", exactly: #"unknown network "purple""#),
    .init("unknown host of a port", [.set("ports[0].host", s("hv3"))],
          "ports[0].host", exactly: #"unknown host "hv3" (did you mean "hv1"?)"#),
    .init("unknown host, no suggestion", [.set("ports[0].host", s("compute-17"))],
          "ports[0].host", exactly: #"unknown host "compute-17""#),
    .init("unknown remote group", [.set("securityGroups[0].rules[1].remote.group", s("bastoin"))],
          "securityGroups[0].rules[1].remote.group", exactly: #"unknown security group "bastoin" (did you mean "bastion"?)"#),
    .init("unknown remote group, no suggestion", [.set("securityGroups[0].rules[1].remote.group", s("jumphost"))],
          "securityGroups[0].rules[1].remote.group", exactly: #"unknown security group "jumphost""#),
    .init("group listed twice", [.append("ports[0].securityGroups", s("web"))],
          "ports[0].securityGroups[1]", #"security group "web" is listed twice"#),
]

private let crossObjectRows: [DecoderErrorRow] = [
    .init("two vlan networks with one id", [.set("networks[1].segment", j(#"{"type": "vlan", "id": 100}"#))],
          "networks[1].segment", exactly: #"vlan 100 is already used by network "blue" (networks[0])"#),
    .init("two vxlan networks with one vni",
          [.append("networks", j(#"{"name": "green", "segment": {"type": "vxlan", "vni": 5001}}"#))],
          "networks[2].segment", exactly: #"vxlan vni 5001 is already used by network "red" (networks[1])"#),
    .init("two ports with one device on a host", [.set("ports[1].device", s("tap-vm1"))],
          "ports[1].device", exactly: #"device "tap-vm1" on host "hv1" is already used by port "vm1" (ports[0])"#),
    .init("a port on the host's uplink", [.set("ports[1].device", s("eth1"))],
          "ports[1].device", #""eth1" is the uplink of host "hv1""#),
    .init("two ports with one MAC on a network", [.set("ports[3].mac", s("52:54:00:00:01:01"))],
          "ports[3].mac", exactly: #"MAC 52:54:00:00:01:01 is already used on network "blue" by port "vm1" (ports[0])"#),
    .init("MAC spelled differently is the same MAC", [.set("ports[3].mac", s("52-54-00-00-01-01"))],
          "ports[3].mac", "is already used on network \"blue\""),
    .init("two ports with one IP on a network", [.set("ports[3].ips[0]", s("10.1.0.11"))],
          "ports[3].ips[0]", exactly: #"IP 10.1.0.11 is already used on network "blue" by port "vm1" (ports[0].ips[0])"#),
    .init("IPv6 written differently is the same IP", [.append("ports[3].ips", s("fd00:1:0::0:11"))],
          "ports[3].ips[1]", #"IP fd00:1::11 is already used on network "blue" by port "vm1" (ports[0].ips[1])"#),
    .init("one IP twice on a port", [.append("ports[0].ips", s("10.1.0.11"))],
          "ports[0].ips[2]", #"IP 10.1.0.11 is already used on network "blue" by this port (ports[0].ips[0])"#),
    .init("port IP outside the subnets", [.set("ports[0].ips[0]", s("10.2.0.11"))],
          "ports[0].ips[0]", exactly: #"IP 10.2.0.11 is outside the subnets of network "blue" (10.1.0.0/24, fd00:1::/64)"#),
    .init("port IPv6 outside the subnets", [.set("ports[1].ips[0]", s("fd00:1::21"))],
          "ports[1].ips[0]", #"IP fd00:1::21 is outside the subnets of network "red" (10.1.0.0/24)"#),
    .init("missing vtep", [.remove("hosts[1].vtep")],
          "hosts[1]", exactly: #"missing "vtep": host "hv2" has ports on VXLAN network "red" (vni 5001), which also has ports on host "hv1""#),
    .init("missing vteps on both hosts", [.remove("hosts[0].vtep"), .remove("hosts[1].vtep")],
          [("hosts[0]", #"missing "vtep": host "hv1""#), ("hosts[1]", #"missing "vtep": host "hv2""#)]),
    .init("stateful and stateless groups on a port", [.append("ports[0].securityGroups", s("cache"))],
          "ports[0].securityGroups", exactly: #"mixes stateful and stateless security groups (stateless: "cache"); a port's groups must all be one kind"#),
    .init("groups on a port without port security", [.set("ports[4].securityGroups", j(#"["web"]"#))],
          "ports[4].securityGroups", exactly: "a port with portSecurity false is not filtered, so it can't be in security groups"),
    .init("log on a port without port security", [.set("ports[4].log", .bool(true))],
          "ports[4].log", exactly: "a port with portSecurity false is not filtered, so it drops nothing to log"),
    .init("log is a string", [.set("ports[0].log", s("yes"))], "ports[0].log", exactly: "expected true or false, found string"),
    .init("unsupported version", [.set("version", n(2))],
          "version", exactly: "unsupported version 2; this program reads version 1"),
    .init("version 0", [.set("version", n(0))], "version", "unsupported version 0"),
]

private let syntaxRows: [DecoderErrorRow] = [
    .init("empty name", [.set("ports[0].name", s(""))], "ports[0].name", exactly: "name is empty"),
    .init("name starting with '-'", [.set("ports[0].name", s("-vm1"))],
          "ports[0].name", exactly: #"name "-vm1" must start with a letter or digit"#),
    .init("name starting with '.'", [.set("ports[0].name", s(".vm1"))],
          "ports[0].name", #"must start with a letter or digit"#),
    .init("name with a space", [.set("ports[0].name", s("vm 1"))],
          "ports[0].name", exactly: #"name "vm 1" contains " "; allowed are A-Z a-z 0-9 _ . -"#),
    .init("name with a slash", [.set("ports[0].name", s("vm/1"))], "ports[0].name", #"contains "/""#),
    .init("name with a non-ASCII letter", [.set("ports[0].name", s("vmé"))], "ports[0].name", #"contains "é""#),
    .init("name of 64 characters", [.set("ports[0].name", s(String(repeating: "a", count: 64)))],
          "ports[0].name", "is longer than 63 characters"),
    .init("host name with a colon", [.append("hosts", j(#"{"name": "hv:3"}"#))], "hosts[2].name", #"contains ":""#),
    .init("group name with a space", [.append("securityGroups", j(#"{"name": "my group", "rules": []}"#))],
          "securityGroups[3].name", #"contains " ""#),
    .init("network name starting with '_'",
          [.append("networks", j(#"{"name": "_green", "segment": {"type": "vlan", "id": 300}}"#))],
          "networks[2].name", "must start with a letter or digit"),
    .init("device of 16 bytes", [.set("ports[0].device", s("tap-0123456789ab"))],
          "ports[0].device", exactly: #"interface name "tap-0123456789ab" is 16 bytes; Linux allows at most 15"#),
    .init("device of 15 characters but 16 bytes", [.set("ports[0].device", s("tap-é1234567890"))],
          "ports[0].device", "is 16 bytes; Linux allows at most 15"),
    .init("empty device", [.set("ports[0].device", s(""))], "ports[0].device", exactly: "interface name is empty"),
    .init("device with a slash", [.set("ports[0].device", s("tap/vm1"))], "ports[0].device", "may not contain '/'"),
    .init("device '..'", [.set("ports[0].device", s(".."))], "ports[0].device", #"".." is not a valid interface name"#),
    .init("uplink of 16 bytes", [.set("hosts[0].uplink", s("bond0.1234567890"))], "hosts[0].uplink", "is 16 bytes"),
]

private let allErrorRows = unknownFieldRows + missingFieldRows + wrongTypeRows + duplicateRows + addressRows + ruleRows
    + referenceRows + crossObjectRows + syntaxRows

extension PolicyDecoderTests {
    @Test(arguments: allErrorRows)
    func reportsError(_ row: DecoderErrorRow) {
        let document = PolicyEdit.apply(row.edits, to: DecoderFixture.base)
        let result = PolicyDecoder.decode(document)
        if row.expected.isEmpty {
            #expect(throws: Never.self, "\(row.edits)") { try result.get() }
            return
        }
        guard case .failure(let error) = result else {
            Issue.record("decoded without error after \(row.edits)")
            return
        }
        let diagnostics = error.diagnostics
        #expect(diagnostics.map(\.path) == row.expected.map(\.path), "\(error)")
        for (diagnostic, expected) in zip(diagnostics, row.expected) {
            #expect(expected.matches(diagnostic), "got \(diagnostic), expected \(expected)")
        }
        // The same document as JSON text gives exactly the same result.
        #expect(PolicyDecoder.decode(json: document.serialized(pretty: true)) == result)
    }
}

// MARK: - Edits that stay valid

struct DecoderValidRow: Sendable, CustomTestStringConvertible {
    let label: String
    let edits: [PolicyEdit]
    init(_ label: String, _ edits: [PolicyEdit]) {
        self.label = label
        self.edits = edits
    }
    var testDescription: String { label }
}

private let validRows: [DecoderValidRow] = [
    .init("one device name on different hosts", [.set("ports[2].device", s("tap-vm1"))]),
    .init("one MAC on different networks", [.set("ports[1].mac", s("52:54:00:00:01:01"))]),
    .init("one IP on different networks with identical subnets", [.set("ports[1].ips[0]", s("10.1.0.11"))]),
    .init("no vtep for a single-host vxlan network",
          [.remove("hosts[1].vtep"), .set("ports[2].host", s("hv1"))]),
    .init("no vteps when every network is a vlan",
          [.remove("hosts[0].vtep"), .remove("hosts[1].vtep"), .set("networks[1].segment", j(#"{"type": "vlan", "id": 200}"#))]),
    .init("no vtep on a host without vxlan ports",
          [.append("hosts", j(#"{"name": "hv3"}"#)), .append("ports", PolicyEdit.set("host", s("hv3")).apply(to: extraPort))]),
    .init("any IP on a network without subnets", [.remove("networks[0].subnets"), .set("ports[0].ips[0]", s("198.51.100.7"))]),
    .init("empty lists", [.set("ports[0].ips", j("[]")), .set("ports[0].securityGroups", j("[]")),
                          .set("ports[0].allowedAddressPairs", j("[]")), .set("securityGroups[1].rules", j("[]"))]),
    .init("empty policy", [.set("", j(#"{"version": 1}"#))]),
    .init("name of 63 characters", [.set("ports[0].name", s(String(repeating: "a", count: 63)))]),
    .init("names with digits, dots, dashes and underscores", [.set("ports[0].name", s("0vm_1.a-b"))]),
    .init("device of 15 bytes", [.set("ports[0].device", s("tap-0123456789a"))]),
    .init("icmp as protocol number 1", [.set("securityGroups[0].rules[2].protocol", n(1))]),
    .init("ports with protocol 6 (tcp)", [.set("securityGroups[0].rules[1].protocol", n(6))]),
    .init("icmpv6 type with ethertype ipv6", [add("securityGroups[2].rules[2]", "ethertype", s("ipv6"))]),
    .init("ethertype matching the cidr", [add("securityGroups[0].rules[0]", "ethertype", s("ipv4"))]),
    .init("port range 1-65535", [.set("securityGroups[0].rules[1].ports", s("1-65535"))]),
    .init("stateless groups only", [.set("ports[0].securityGroups", j(#"["cache"]"#))]),
    .init("port security off without groups", [.set("ports[0].portSecurity", .bool(false)), .remove("ports[0].securityGroups")]),
    .init("uppercase MAC", [.set("ports[0].mac", s("52:54:00:AB:CD:EF"))]),
    .init("names differing in case are different", [.append("ports", PolicyEdit.set("name", s("VM2")).apply(to: extraPort))]),
]

extension PolicyDecoderTests {
    @Test(arguments: validRows)
    func staysValid(_ row: DecoderValidRow) throws {
        let document = PolicyEdit.apply(row.edits, to: DecoderFixture.base)
        let policy = try PolicyDecoder.decode(document).get()
        #expect(PolicyDecoder.decode(PolicyEncoder.encode(policy)) == .success(policy))
    }
}

extension PolicyDecoderTests {
    @Test func validEditsChangeThePolicyAsWritten() throws {
        let sameDevice = try decodeBase([.set("ports[2].device", s("tap-vm1"))]).get()
        #expect(sameDevice.ports[2].device == "tap-vm1")
        let mac = try decodeBase([.set("ports[0].mac", s("52-54-00-AB-CD-EF"))]).get()
        #expect(mac.ports[0].mac.description == "52:54:00:ab:cd:ef")
        let proto = try decodeBase([.set("securityGroups[0].rules[1].protocol", n(6))]).get()
        #expect(proto.securityGroups[0].rules[1].proto == .tcp)
        let other = try decodeBase([.set("securityGroups[0].rules[3].protocol", n(47))]).get()
        #expect(other.securityGroups[0].rules[3].proto == .number(47))
    }
}

// MARK: - Every error in one run, in a stable order

/// Edits in many places at once; each causes exactly one diagnostic.
private let manyEdits: [PolicyEdit] = [
    .set("ports[3].securityGroups[0]", s("wbe")),                        // unknown group
    add("", "tenant", j("[]")),                                           // unknown field
    .set("networks[1].segment", j(#"{"type": "vlan", "id": 100}"#)),      // duplicate segment
    .set("networks[0].subnets[0]", s("10.1.0.1/24")),                     // host bits
    .remove("hosts[0].uplink"), add("hosts[0]", "uplink", s("this-is-too-long")),  // 16 bytes
    .set("securityGroups[0].rules[1].ports", s("90-80")),                 // reversed range
    add("securityGroups[0].rules[2]", "ports", s("80")),                  // ports with icmp
    .set("securityGroups[1].rules[0].remote", j(#"{"group": "wbe"}"#)),   // unknown remote group
    .set("securityGroups[2].stateful", s("no")),                          // wrong type
    .set("ports[0].mac", s("01:00:5e:00:00:01")),                         // multicast
    .set("ports[1].device", s("tap-vm1")),                                // duplicate device on hv1
    .set("ports[2].network", s("bleu")),                                  // unknown network
    .set("ports[4].securityGroups", j(#"["web"]"#)),                      // groups without port security
    .set("version", n(3)),                                                // unsupported version
]

extension PolicyDecoderTests {
    @Test func reportsEveryErrorInOneRunInDocumentOrder() {
        guard case .failure(let error) = decodeBase(manyEdits) else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.map(\.path) == [
            "version",
            "networks[0].subnets[0]",
            "networks[1].segment",
            "hosts[0].uplink",
            "securityGroups[0].rules[1].ports",
            "securityGroups[0].rules[2].ports",
            "securityGroups[1].rules[0].remote.group",
            "securityGroups[2].stateful",
            "ports[0].mac",
            "ports[1].device",
            "ports[2].network",
            "ports[3].securityGroups[0]",
            "ports[4].securityGroups",
            "tenant",
        ], "\(error)")
        #expect(error.diagnostics.allSatisfy { !$0.message.isEmpty })
        #expect(error.description.contains(#"ports[3].securityGroups[0]: unknown security group "wbe" (did you mean "web"?)"#))
    }
}

extension PolicyDecoderTests {
    @Test func orderIsStable() {
        let document = PolicyEdit.apply(manyEdits, to: DecoderFixture.base)
        let first = PolicyDecoder.decode(document)
        for _ in 0..<5 {
            #expect(PolicyDecoder.decode(document) == first)
        }
        #expect(PolicyDecoder.decode(json: document.serialized()) == first)
        #expect(PolicyDecoder.decode(json: document.serialized(pretty: true)) == first)
    }
}

extension PolicyDecoderTests {
    @Test func orderFollowsTheDocumentNotTheKindOfCheck() {
        // A cross-object error early in the file comes before a structural one
        // later in the file, and array indices compare as numbers (ports[10]
        // after ports[9]).
        var edits: [PolicyEdit] = [.set("networks[1].segment", j(#"{"type": "vlan", "id": 100}"#))]
        for k in 0..<8 {
            edits.append(.append("ports", PolicyEdit.set("name", s("extra\(k)")).apply(to:
                PolicyEdit.set("device", s("tap-x\(k)")).apply(to:
                    PolicyEdit.set("mac", s("52:54:00:00:0f:0\(k)")).apply(to:
                        PolicyEdit.set("ips", j(#"["10.1.0.\#(100 + k)"]"#)).apply(to: extraPort))))))
        }
        edits.append(.set("ports[9].mac", s("zz")))
        edits.append(.set("ports[10].mac", s("zz")))
        edits.append(.set("ports[2].ips[0]", s("10.1.0.21")))  // duplicate of ports[1] on red
        guard case .failure(let error) = decodeBase(edits) else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.map(\.path) == [
            "networks[1].segment", "ports[2].ips[0]", "ports[9].mac", "ports[10].mac",
        ], "\(error)")
    }
}

// MARK: - Errors do not hide each other

extension PolicyDecoderTests {
    @Test func problemsInOneObjectAreAllReported() {
        // A port with a bad MAC still has its references checked, and a group
        // with a broken rule still has its other rules checked.
        let result = decodeBase([
            .set("ports[3].mac", s("52:54:00:00:01")),
            .set("ports[3].securityGroups[0]", s("wbe")),
            .set("ports[3].host", s("hv4")),
            .set("securityGroups[0].rules[0].ports", s("0")),
            .set("securityGroups[0].rules[1].remote.group", s("bastoin")),
            add("securityGroups[0].rules[3]", "ethertype", s("ipv6")),
            add("securityGroups[0].rules[3]", "remote", j(#"{"cidr": "10.0.0.0/8"}"#)),
        ])
        guard case .failure(let error) = result else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.map(\.description) == [
            #"securityGroups[0].rules[0].ports: port 0 in "0" is out of range 1-65535"#,
            #"securityGroups[0].rules[1].remote.group: unknown security group "bastoin" (did you mean "bastion"?)"#,
            #"securityGroups[0].rules[3].ethertype: ethertype ipv6 contradicts remote cidr 10.0.0.0/8"#,
            #"ports[3].host: unknown host "hv4" (did you mean "hv1"?)"#,
            #"ports[3].mac: "52:54:00:00:01" is not a MAC address (expected six hex octets like 52:54:00:12:34:56)"#,
            #"ports[3].securityGroups[0]: unknown security group "wbe" (did you mean "web"?)"#,
        ], "\(error)")
    }
}

extension PolicyDecoderTests {
    @Test func misspelledProtocolIsReportedOnce() {
        // The rule's icmp and ports can't be judged against a protocol that is
        // not known; only the protocol is reported.
        let icmp = decodeBase([.set("securityGroups[0].rules[2].protocol", s("icmq"))])
        #expect(icmp.failurePaths == ["securityGroups[0].rules[2].protocol"])
        let ports = decodeBase([.set("securityGroups[0].rules[0].protocol", s("tcpp"))])
        #expect(ports.failurePaths == ["securityGroups[0].rules[0].protocol"])
    }
}

extension PolicyDecoderTests {
    @Test func brokenListsDoNotMakeEveryReferenceUnknown() {
        // When "securityGroups" itself is not a list, the groups are not known,
        // so the ports' group names are not reported as unknown.
        #expect(decodeBase([.set("securityGroups", j(#"{"name": "web"}"#))]).failurePaths == ["securityGroups"])
        #expect(decodeBase([.set("networks", s("blue"))]).failurePaths == ["networks"])
        #expect(decodeBase([.set("hosts", .null)]).failurePaths == ["hosts"])
    }
}

extension PolicyDecoderTests {
    @Test func unknownHostIsNotAlsoAMissingVTEPPeer() {
        // vm3 on a misspelled host: hv1 alone has ports on "red" as far as the
        // known hosts go, so it is not told that it needs a VTEP.
        let result = decodeBase([.remove("hosts[0].vtep"), .set("ports[2].host", s("hv22"))])
        guard case .failure(let error) = result else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.map(\.description) == [#"ports[2].host: unknown host "hv22" (did you mean "hv2"?)"#])
    }
}

extension PolicyDecoderTests {
    @Test func valueInMessagesIsShort() {
        // A huge wrong value is not copied into the message.
        let big = JSONValue.array(Array(repeating: .string(String(repeating: "x", count: 100)), count: 100))
        guard case .failure(let error) = decodeBase([.set("version", big)]) else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics.allSatisfy { $0.message.utf8.count < 200 }, "\(error)")

        let longName = String(repeating: "n", count: 10_000)
        guard case .failure(let nameError) = decodeBase([.set("ports[0].name", s(longName))]) else {
            Issue.record("decoded")
            return
        }
        #expect(nameError.diagnostics.map(\.path) == ["ports[0].name"])
        #expect(nameError.diagnostics.allSatisfy { $0.message.utf8.count < 200 }, "\(nameError)")
    }
}

extension PolicyDecoderTests {
    @Test func invalidJSONIsOneDiagnosticWithItsPosition() {
        let result = PolicyDecoder.decode(json: "{\n  \"version\": 1,\n  \"networks\": [,]\n}")
        guard case .failure(let error) = result else {
            Issue.record("decoded")
            return
        }
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics.first?.path == "")
        #expect(error.diagnostics.first?.message.hasPrefix("invalid JSON: line 3, column") == true, "\(error)")
    }
}

extension Result where Success == Policy, Failure == PolicyError {
    /// The paths of the diagnostics, empty on success.
    var failurePaths: [String] {
        if case .failure(let error) = self { return error.diagnostics.map(\.path) }
        return []
    }
}

// MARK: - YAML

/// Writes a document as block-style YAML: mappings and sequences as blocks,
/// strings double-quoted (JSON escapes are valid YAML), numbers, booleans
/// and null as written.
enum BlockYAML {
    static func write(_ value: JSONValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out)
        return out
    }

    private static func scalar(_ value: JSONValue) -> String? {
        switch value {
        case .array(let a) where a.isEmpty: return "[]"
        case .object(let o) where o.isEmpty: return "{}"
        case .array, .object: return nil
        default: return value.serialized()
        }
    }

    private static func write(_ value: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .object(let members) where !members.isEmpty:
            for member in members {
                let key = JSONValue.string(member.key).serialized()
                if let text = scalar(member.value) {
                    out += "\(pad)\(key): \(text)\n"
                } else {
                    out += "\(pad)\(key):\n"
                    write(member.value, indent: indent + 2, into: &out)
                }
            }
        case .array(let elements) where !elements.isEmpty:
            for element in elements {
                if let text = scalar(element) {
                    out += "\(pad)- \(text)\n"
                } else {
                    // The nested block, with its first indentation replaced by "- ".
                    var nested = ""
                    write(element, indent: indent + 2, into: &nested)
                    out += pad + "- " + nested.dropFirst(indent + 2)
                }
            }
        default:
            out += pad + scalar(value)! + "\n"
        }
    }
}

private let baseYAML = """
    version: 1
    networks:
      - name: blue
        segment: {type: vlan, id: 100}
        subnets: [10.1.0.0/24, "fd00:1::/64"]
      - name: red
        segment: {type: vxlan, vni: 5001}
        subnets: [10.1.0.0/24]
    hosts:
      - {name: hv1, uplink: eth1, vtep: 192.0.2.1}
      - {name: hv2, uplink: eth1, vtep: 192.0.2.2}
    securityGroups:
      - name: web
        description: public web tier
        stateful: true
        rules:
          - {direction: ingress, protocol: tcp, ports: ["80", "443"], remote: {cidr: 0.0.0.0/0}}
          - {direction: ingress, protocol: tcp, ports: "22", remote: {group: bastion}}
          - {direction: ingress, protocol: icmp, icmp: {type: 8}, remote: {group: web}}
          - direction: egress
      - name: bastion
        rules:
          - direction: egress
            protocol: tcp
            ports: '22'
      - name: cache
        stateful: false
        rules:
          - direction: ingress
            protocol: udp
            ports: 11211-11212
            remote: {group: cache}
            ethertype: ipv4
            description: memcached between peers
          - {direction: egress, protocol: 132, remote: {cidr: "fd00:1::/64"}}
          - {direction: ingress, protocol: icmpv6, icmp: {type: 1, code: 4}}
    ports:
      - name: vm1
        host: hv1
        device: tap-vm1
        network: blue
        mac: "52:54:00:00:01:01"
        ips: [10.1.0.11, "fd00:1::11"]
        securityGroups: [web]
        allowedAddressPairs:
          - ip: 10.1.0.100/32
      - name: vm2
        host: hv1
        device: tap-vm2
        network: red
        mac: "52:54:00:00:02:01"
        ips: [10.1.0.21]
        securityGroups: [cache]
      - name: vm3
        host: hv2
        device: tap-vm3
        network: red
        mac: "52:54:00:00:02:02"
        ips: [10.1.0.22]
        securityGroups: [cache]
        allowedAddressPairs: [{ip: 10.1.0.200, mac: "52:54:00:00:02:99"}]
      - {name: bastion1, host: hv2, device: tap-bastion1, network: blue, mac: "52:54:00:00:01:05",
         ips: [10.1.0.5], securityGroups: [bastion]}
      - name: router
        host: hv2
        device: tap-router
        network: blue
        mac: "52:54:00:00:01:fe"
        ips: [10.1.0.1]
        portSecurity: false
    """

private func decodeYAML(_ text: String) throws -> Result<Policy, PolicyError> {
    PolicyDecoder.decode(try YAMLReader.parse(text))
}

extension PolicyDecoderTests {
    @Test func yamlGivesTheSamePolicy() throws {
        let fromJSON = try PolicyDecoder.decode(json: DecoderFixture.baseJSON).get()
        #expect(try decodeYAML(baseYAML) == .success(fromJSON))
        #expect(try decodeYAML(BlockYAML.write(DecoderFixture.base)) == .success(fromJSON))
    }
}

extension PolicyDecoderTests {
    @Test(arguments: allErrorRows.filter { row in
        // Every row whose document YAML can express: all of them, through the
        // quoted block writer (duplicate keys are YAML syntax errors instead).
        !row.edits.contains { if case .addMember = $0 { true } else { false } }
    })
    func yamlGivesTheSameDiagnostics(_ row: DecoderErrorRow) throws {
        let document = PolicyEdit.apply(row.edits, to: DecoderFixture.base)
        let yaml = BlockYAML.write(document)
        #expect(try YAMLReader.parse(yaml) == document, "\(yaml)")
        #expect(try decodeYAML(yaml) == PolicyDecoder.decode(document))
    }
}

extension PolicyDecoderTests {
    @Test func yamlDuplicateKey() throws {
        // JSON: the decoder reports the second "mac" with its path.
        let json = PolicyEdit.apply([add("ports[0]", "mac", s("52:54:00:00:01:02"))], to: DecoderFixture.base)
        #expect(PolicyDecoder.decode(json).failurePaths == ["ports[0].mac"])

        // YAML: Yams rejects keys with the same text while composing, so the
        // document never reaches the decoder; the error names the line of the
        // first occurrence.
        let yaml = baseYAML.replacingFirst("    mac: \"52:54:00:00:01:01\"\n",
                                           with: "    mac: \"52:54:00:00:01:01\"\n    mac: \"52:54:00:00:01:02\"\n")
        #expect(yaml != baseYAML)
        #expect(throws: YAMLSyntaxError.self) { try YAMLReader.parse(yaml) }
        do {
            _ = try YAMLReader.parse(yaml)
        } catch {
            #expect(error.message == "duplicate key 'mac' in mapping (position of its first occurrence)")
            let line = baseYAML.split(separator: "\n", omittingEmptySubsequences: false)
                .firstIndex { $0.contains(#"mac: "52:54:00:00:01:01""#) }.map { $0 + 1 }
            #expect(error.line == line)
        }

        // A key that Yams does not see as the same (another tag) reaches the
        // decoder, which gives the same diagnostic as for JSON.
        let tagged = baseYAML.replacingFirst("    mac: \"52:54:00:00:01:01\"\n",
                                             with: "    mac: \"52:54:00:00:01:01\"\n    !!binary mac: \"52:54:00:00:01:02\"\n")
        let fromYAML = try decodeYAML(tagged)
        #expect(fromYAML == PolicyDecoder.decode(json))
    }
}

extension PolicyDecoderTests {
    @Test func yamlPlainNumbersAreNotPortStrings() throws {
        // A common YAML slip: `ports: 22` is a number, which the format does not
        // accept; the path is the same as for JSON.
        let yaml = baseYAML.replacingFirst("    ports: '22'\n", with: "    ports: 22\n")
        #expect(try decodeYAML(yaml).failureDescriptions == [
            #"securityGroups[1].rules[0].ports: expected a string like "22" or "8000-8100", found number"#,
        ])
    }
}

extension Result where Success == Policy, Failure == PolicyError {
    var failureDescriptions: [String] {
        if case .failure(let error) = self { return error.diagnostics.map(\.description) }
        return []
    }
}

extension String {
    /// The string with the first occurrence of `target` replaced.
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        let text = Array(utf8), pattern = Array(target.utf8)
        guard !pattern.isEmpty, text.count >= pattern.count else { return self }
        for start in 0...(text.count - pattern.count) where text[start..<(start + pattern.count)].elementsEqual(pattern) {
            return String(decoding: text[..<start] + Array(replacement.utf8) + text[(start + pattern.count)...], as: UTF8.self)
        }
        return self
    }
}
