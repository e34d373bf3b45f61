import Foundation

/// A policy.json (policy-format.md, version 1) built up per scenario. Rules
/// are written as the JSON objects they become, e.g.
/// `["direction": "ingress", "protocol": "tcp", "ports": "80"]`.
struct PolicyDoc {
    typealias Object = [String: Any]

    var networks: [Object] = []
    var hosts: [Object] = []
    var securityGroups: [Object] = []
    var ports: [Object] = []

    /// A VXLAN network.
    mutating func network(_ name: String, vni: Int, subnets: [String] = ["10.0.0.0/24", "fd00::/64"]) {
        networks.append(["name": name, "segment": ["type": "vxlan", "vni": vni], "subnets": subnets])
    }

    /// A VLAN network.
    mutating func network(_ name: String, vlan: Int, subnets: [String] = ["10.0.0.0/24", "fd00::/64"]) {
        networks.append(["name": name, "segment": ["type": "vlan", "id": vlan], "subnets": subnets])
    }

    mutating func host(_ host: Host) {
        var object: Object = ["name": host.name]
        if let uplink = host.uplink { object["uplink"] = uplink }
        if let vtep = host.vtep { object["vtep"] = vtep }
        hosts.append(object)
    }

    mutating func group(_ name: String, stateful: Bool? = nil, _ rules: [Object]) {
        var object: Object = ["name": name, "rules": rules]
        if let stateful { object["stateful"] = stateful }
        securityGroups.append(object)
    }

    /// The VM's port, with its network, MAC and IPs as the VM has them.
    mutating func port(_ vm: VM, groups: [String] = [], portSecurity: Bool? = nil, addressPairs: [Object]? = nil, log: Bool? = nil) {
        var object: Object = [
            "name": vm.name, "host": vm.host.name, "device": vm.device, "network": vm.network,
            "mac": vm.mac, "ips": vm.ips, "securityGroups": groups,
        ]
        if let portSecurity { object["portSecurity"] = portSecurity }
        if let addressPairs { object["allowedAddressPairs"] = addressPairs }
        if let log { object["log"] = log }
        ports.append(object)
    }

    /// Changes one port's groups (a membership change between applies).
    mutating func setGroups(of vm: VM, _ groups: [String]) {
        for i in ports.indices where ports[i]["name"] as? String == vm.name { ports[i]["securityGroups"] = groups }
    }

    /// Replaces one group's rules (a rule change between applies).
    mutating func setRules(of group: String, _ rules: [Object]) {
        for i in securityGroups.indices where securityGroups[i]["name"] as? String == group { securityGroups[i]["rules"] = rules }
    }

    var json: String {
        let document: Object = [
            "version": 1, "networks": networks, "hosts": hosts, "securityGroups": securityGroups, "ports": ports,
        ]
        let data = try! JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Shorthands for rule objects.
enum Rule {
    static func ingress(_ fields: PolicyDoc.Object = [:]) -> PolicyDoc.Object { fields.merging(["direction": "ingress"]) { $1 } }
    static func egress(_ fields: PolicyDoc.Object = [:]) -> PolicyDoc.Object { fields.merging(["direction": "egress"]) { $1 } }
    /// Everything, both directions (a group whose members accept anything and send anything).
    static var open: [PolicyDoc.Object] { [ingress(), egress()] }
}
