/// Writes a policy back as a format-1 document, with defaults left out, so
/// that `PolicyDecoder.decode(PolicyEncoder.encode(p)) == p`. Generators and
/// control planes that build a `Policy` in code use it to publish one.
public enum PolicyEncoder {
    public static func encode(_ policy: Policy) -> JSONValue {
        object([
            ("version", .number(JSONNumber(policy.version))),
            ("networks", .array(policy.networks.map(encode))),
            ("hosts", .array(policy.hosts.map(encode))),
            ("securityGroups", .array(policy.securityGroups.map(encode))),
            ("ports", .array(policy.ports.map(encode))),
        ])
    }

    public static func json(_ policy: Policy, pretty: Bool = false) -> String {
        encode(policy).serialized(pretty: pretty)
    }

    static func encode(_ network: Network) -> JSONValue {
        let segment: JSONValue =
            switch network.segment {
            case .vlan(let id): object([("type", .string("vlan")), ("id", int(Int(id)))])
            case .vxlan(let vni): object([("type", .string("vxlan")), ("vni", int(Int(vni)))])
            }
        return object([
            ("name", .string(network.name)), ("segment", segment),
            ("subnets", network.subnets.isEmpty ? nil : strings(network.subnets)),
        ])
    }

    static func encode(_ host: Host) -> JSONValue {
        object([
            ("name", .string(host.name)), ("uplink", host.uplink.map(JSONValue.string)),
            ("vtep", host.vtep.map { .string($0.description) }),
        ])
    }

    static func encode(_ group: SecurityGroup) -> JSONValue {
        object([
            ("name", .string(group.name)), ("description", group.description.map(JSONValue.string)),
            ("stateful", group.stateful ? nil : .bool(false)), ("rules", .array(group.rules.map(encode))),
        ])
    }

    static func encode(_ rule: Rule) -> JSONValue {
        let proto: JSONValue? =
            switch rule.proto {
            case .any: nil
            case .number(let n): int(Int(n))
            default: .string(rule.proto.description)
            }
        let remote: JSONValue? =
            switch rule.remote {
            case .any: nil
            case .cidr(let p): object([("cidr", .string(p.description))])
            case .group(let g): object([("group", .string(g))])
            }
        return object([
            ("direction", .string(rule.direction.rawValue)), ("protocol", proto),
            ("ports", rule.ports.isEmpty ? nil : strings(rule.ports)),
            ("icmp", rule.icmp.map { icmp in object([("type", int(Int(icmp.type))), ("code", icmp.code.map { int(Int($0)) })]) }),
            ("remote", remote), ("ethertype", rule.ethertype.map { .string($0.rawValue) }),
            ("description", rule.description.map(JSONValue.string)),
        ])
    }

    static func encode(_ port: Port) -> JSONValue {
        object([
            ("name", .string(port.name)), ("host", .string(port.host)), ("device", .string(port.device)),
            ("network", .string(port.network)), ("mac", .string(port.mac.description)),
            ("ips", port.ips.isEmpty ? nil : strings(port.ips)),
            ("securityGroups", port.securityGroups.isEmpty ? nil : .array(port.securityGroups.map(JSONValue.string))),
            ("allowedAddressPairs", port.allowedAddressPairs.isEmpty ? nil : .array(port.allowedAddressPairs.map { pair in
                object([("ip", .string(pair.ip.description)), ("mac", pair.mac.map { .string($0.description) })])
            })),
            ("portSecurity", port.portSecurity ? nil : .bool(false)),
            ("log", port.log ? .bool(true) : nil),
        ])
    }

    private static func object(_ members: [(String, JSONValue?)]) -> JSONValue {
        .object(members.compactMap { key, value in value.map { JSONMember(key: key, value: $0) } })
    }

    private static func int(_ n: Int) -> JSONValue { .number(JSONNumber(n)) }

    private static func strings(_ items: [some CustomStringConvertible]) -> JSONValue {
        .array(items.map { .string($0.description) })
    }
}
