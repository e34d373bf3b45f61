import HostModel
import PolicyCompiler
import PolicyModel

/// Where on a host's path a packet is looked at, in the order of a bridged
/// IP packet with br_netfilter: the bridge-family prerouting chains (all
/// below priority 0, so before br_netfilter hands the packet to the inet
/// hooks), inet prerouting (raw chains, conntrack, then filter chains),
/// bridge forward (again below 0), inet forward.
public enum HookStage: String, Hashable, Sendable, Codable, CaseIterable {
    case bridgePrerouting = "bridge prerouting"
    case inetPrerouting = "inet prerouting"
    case bridgeForward = "bridge forward"
    case inetForward = "inet forward"
}

/// What one host did with a packet bridged from `inDevice` to `outDevice`.
struct HostPassage {
    var host: String
    var inDevice: String
    var outDevice: String
    var hits: [HookStage: [RuleHit]] = [:]
    /// Nil when the packet went through.
    var droppedAt: HookStage?
    var connection: ConnectionState?
    var zone: UInt16?

    var delivered: Bool { droppedAt == nil }
}

/// One host's compiled state and its connection tracking, which remembers
/// the connections a trace's packet opened for its reply.
struct HostDatapath {
    let compilation: HostCompilation
    var connections = ConnectionTable()

    /// conntrack's hook priority (NF_IP_PRI_CONNTRACK): raw chains run before it.
    static let conntrackPriority: Int32 = -200

    var state: HostState { compilation.state }
    var bridgeTable: NFTTable? { state.tables[NFTTableID(.bridge, Naming.table)] }
    var inetTable: NFTTable? { state.tables[NFTTableID(.inet, Naming.table)] }

    /// The bridge a device is attached to here: a port's, a tunnel's or the trunk's.
    func bridge(of device: String) -> String? {
        state.links.ports[device]?.bridge ?? state.links.vxlans[device]?.bridge ?? state.links.trunks[device]?.bridge
    }

    /// The device that carries a network to other hosts: its VXLAN tunnel
    /// or the VLAN trunk (the uplink), with the VLAN id frames carry there.
    func segmentDevice(of network: Network) -> (device: String, vlan: UInt16?)? {
        switch network.segment {
        case .vxlan(let vni):
            let device = Naming.vxlanDevice(vni: vni)
            return state.links.vxlans[device] == nil ? nil : (device, nil)
        case .vlan(let id):
            return state.links.trunks.first { $0.value.vlans.contains(id) }.map { ($0.key, id) }
        }
    }

    /// Runs the packet through this host's chains. `vlan` is the tag of a
    /// frame that arrives on the trunk.
    mutating func pass(_ packet: Packet, in inDevice: String, out outDevice: String, bridge: String, vlan: UInt16? = nil) -> HostPassage {
        var passage = HostPassage(host: compilation.host, inDevice: inDevice, outDevice: outDevice)
        var context = HookContext(iifname: inDevice, vlanID: vlan)

        func run(_ table: NFTTable?, _ hook: NFTHook, _ stage: HookStage, _ priorities: Range<Int32> = Int32.min..<Int32.max) -> Bool {
            guard let table else { return true }
            var hits = passage.hits[stage] ?? []
            let outcome = NFTInterpreter(table: table).run(hook: hook, priorities: priorities, packet: packet, context: &context, hits: &hits)
            passage.hits[stage] = hits
            if outcome == .drop { passage.droppedAt = stage }
            return outcome == .accept
        }

        guard run(bridgeTable, .prerouting, .bridgePrerouting) else { return passage }
        // In the inet hooks that br_netfilter runs, the devices are the bridge.
        context.iifname = bridge
        guard run(inetTable, .prerouting, .inetPrerouting, Int32.min..<Self.conntrackPriority) else { return passage }
        let zone = context.zone ?? 0
        if context.notrack {
            context.connection = .untracked
        } else {
            (context.connection, context.isReply) = connections.state(of: packet, zone: zone)
            passage.zone = zone
        }
        passage.connection = context.connection
        guard run(inetTable, .prerouting, .inetPrerouting, Self.conntrackPriority..<Int32.max) else { return passage }
        context.iifname = inDevice
        context.oifname = outDevice
        guard run(bridgeTable, .forward, .bridgeForward) else { return passage }
        context.iifname = bridge
        context.oifname = bridge
        guard run(inetTable, .forward, .inetForward) else { return passage }
        if context.connection == .new { connections.confirm(packet, zone: zone) }
        return passage
    }
}
