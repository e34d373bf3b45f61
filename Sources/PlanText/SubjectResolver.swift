import HostModel
import PolicyCompiler
import PolicyModel

/// Tells which port, group or profile each operation of a plan is about.
///
/// The names say it for chains and sets (`sg/web/ingress`, `remote/web/ipv4`,
/// `profile/web/db/egress`, `port/tap-vm1/egress`, see `Naming`). Per-port entries say it through
/// their key: the device (`"tap-vm1" . 52:54:…`), the port's slot (the keys
/// of the verdict maps `egress_ports`/`ingress_ports`) or its MAC
/// (`stateful_macs`). Slots and MACs are found in the `port_marks`,
/// `ingress_marks` and `allowed_macs` entries of the states given: the
/// desired one for ports being added, the observed one for ports being
/// removed, which the policy no longer knows.
public struct SubjectResolver: Sendable {
    let uplink: String?
    let portByDevice: [String: String]
    let deviceBySourceSlot: [UInt32: String]
    let deviceByDestination: [UInt32: String]
    let deviceByMAC: [MACAddress: String]
    /// Group name → its members' address prefixes, to say whose address a
    /// remote-set element is.
    let memberPrefixes: [String: [(range: IPRange, port: String)]]

    public init(policy: Policy, host: String, states: [HostState]) {
        let hostPorts = policy.ports.filter { $0.host == host }
        uplink = policy.hosts.first { $0.name == host }?.uplink
        portByDevice = Dictionary(hostPorts.map { ($0.device, $0.name) }, uniquingKeysWith: { a, _ in a })

        var bySource: [UInt32: String] = [:]
        var byDestination: [UInt32: String] = [:]
        var byMAC: [MACAddress: String] = [:]
        // Later states win: the desired state is given last and is the one
        // the plan leads to.
        for state in states {
            let bridge = state.tables[NFTTableID(.bridge, Naming.table)]
            for element in bridge?.sets["port_marks"]?.elements ?? [] {
                guard case .ifname(let device)? = element.key.first, case .mark(let mark)? = element.data else { continue }
                let slot = mark & PacketMark.sourceSlotMask
                if slot != 0 { bySource[slot] = device }
            }
            for element in bridge?.sets["ingress_marks"]?.elements ?? [] {
                guard case .ifname(let device)? = element.key.first, case .mark(let mark)? = element.data else { continue }
                byDestination[mark] = device
            }
            for element in bridge?.sets["allowed_macs"]?.elements ?? [] {
                guard element.key.count == 2, case .ifname(let device) = element.key[0], case .mac(let mac) = element.key[1] else { continue }
                byMAC[mac] = device
            }
        }
        deviceBySourceSlot = bySource
        deviceByDestination = byDestination
        deviceByMAC = byMAC

        var members: [String: [(range: IPRange, port: String)]] = [:]
        for port in policy.ports {
            for group in Set(port.securityGroups) {
                members[group, default: []] += port.addressPrefixes.map { (IPRange($0), port.name) }
            }
        }
        memberPrefixes = members
    }

    // MARK: - nftables

    public func subject(table: NFTTableID, set: String, element: NFTElement) -> PlanSubject {
        if let group = Self.remoteSetGroup(set) { return .group(group) }
        switch (set, element.key.first) {
        case (_, .ifname(let device)?): return subject(device: device)
        case ("egress_ports", .integer(let key)?): return deviceBySourceSlot[key].map(port) ?? .host
        case ("ingress_ports", .integer(let key)?): return deviceByDestination[key].map(port) ?? .host
        case ("stateful_macs", _):
            guard element.key.count == 2, case .mac(let mac) = element.key[1], let device = deviceByMAC[mac] else { return .host }
            return port(device)
        default: return .host
        }
    }

    public func subject(table: NFTTableID, set: String) -> PlanSubject {
        Self.remoteSetGroup(set).map(PlanSubject.group) ?? .host
    }

    public func subject(table: NFTTableID, chain: String) -> PlanSubject {
        let parts = chain.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, Direction(rawValue: String(parts.last!)) != nil else { return .host }
        switch parts.first {
        case "sg" where parts.count == 3: return .group(String(parts[1]))
        case "profile": return .profile(parts.dropFirst().dropLast().joined(separator: "/"))
        case "port" where parts.count == 3: return subject(device: String(parts[1]))
        default: return .host
        }
    }

    // MARK: - links

    public func subject(_ operation: LinkOperation) -> PlanSubject {
        switch operation {
        case .attachPort(let device, _), .detachPort(let device): port(device)
        default: .host
        }
    }

    // MARK: - names

    /// The ports whose addresses make up a member element of a group's
    /// remote set (several when the compiler merged adjacent addresses).
    public func owners(ofMember element: NFTElement, inGroup group: String) -> [String] {
        guard case .address(let range)? = element.key.first else { return [] }
        let owners = (memberPrefixes[group] ?? []).filter { range.lower <= $0.range.lower && $0.range.upper <= range.upper }
        return Array(Set(owners.map(\.port))).sorted(by: NaturalOrder.less)
    }

    /// The group of a remote-set name (`remote/web/ipv4` → `web`).
    static func remoteSetGroup(_ set: String) -> String? {
        let parts = set.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "remote", IPFamily(rawValue: String(parts[2])) != nil else { return nil }
        return String(parts[1])
    }

    /// A device is a port's unless it is one of the host's own: a tunnel
    /// device or the uplink, which have entries in `port_marks` too.
    func subject(device: String) -> PlanSubject {
        device.hasPrefix(Naming.vxlanPrefix) || device == uplink ? .host : port(device)
    }

    func port(_ device: String) -> PlanSubject { .port(name: portByDevice[device], device: device) }
}
