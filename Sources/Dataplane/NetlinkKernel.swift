import Foundation
import HostModel
import Netlink
import PolicyCompiler
import PolicyModel

/// The real kernel of the calling thread's network namespace, over netlink.
public final class NetlinkKernel: Kernel {
    private let nft: NFTConnection
    private let links: LinkConnection
    private let conntrack: ConntrackConnection

    public init() throws {
        nft = try NFTConnection()
        links = try LinkConnection()
        conntrack = try ConntrackConnection()
    }

    public func deleteConnections(zones: Set<UInt16>) throws { try conntrack.deleteEntries(zones: zones) }

    public func deleteConnections(zone: UInt16, involving ranges: [IPRange]) throws -> Int {
        try conntrack.deleteEntries(zone: zone, involving: ranges)
    }

    public func readTables(_ ids: [NFTTableID]) throws -> [NFTTable] { try nft.read(ids) }

    public func readCounters(_ ids: [NFTTableID]) throws -> [NFTRuleCounter] { try nft.counters(ids) }

    public func rulesetGeneration() throws -> UInt32 { try nft.generation() }

    public func applyTables(_ operations: [NFTOperation], over current: [NFTTable]) throws -> UInt32 {
        try nft.apply(operations, definitions: NFTConnection.definitions(of: current))
    }

    public func readLinks(trunkDevices: Set<String>) throws -> LinkState {
        try links.read(bridgePrefix: Naming.bridgePrefix, vxlanPrefix: Naming.vxlanPrefix, trunkDevices: trunkDevices)
    }

    public func applyLink(_ operation: LinkOperation) throws { try links.apply(operation) }

    public func deviceExists(_ name: String) throws -> Bool { try links.interfaceIndex(name) != nil }

    /// What the last probe found: kept, since a daemon plans every change
    /// and a probe costs a namespace and a few devices (~200 ms here).
    private var probed: (links: LinkCapabilities, conntrack: (available: Bool, error: String?))?

    public func capabilities(probeAgain: Bool) throws -> KernelCapabilities {
        // Features are probed by trying them, in a private namespace; only
        // the br_netfilter switches are read every time, as they are per
        // namespace and an operator may flip them.
        if probed == nil || probeAgain {
            probed = try NetworkNamespace.runIsolated {
                (try LinkConnection().probe(), Self.probeBridgeConntrack(try NFTConnection()))
            }
        }
        let (probed, conntrack) = probed!
        var notes = probed.notes
        let bridgeNetfilter = Self.sysctl("net/bridge/bridge-nf-call-iptables") == "1"
            && Self.sysctl("net/bridge/bridge-nf-call-ip6tables") == "1"
        if !bridgeNetfilter {
            notes.append(
                "net.bridge.bridge-nf-call-iptables/ip6tables: \(Self.sysctl("net/bridge/bridge-nf-call-iptables") ?? "absent (br_netfilter not loaded)")")
        }
        let bridgeNetfilterVLAN = Self.sysctl("net/bridge/bridge-nf-filter-vlan-tagged") == "1"
        if let error = conntrack.error { notes.append("bridge conntrack: \(error)") }
        return KernelCapabilities(
            bridgeNetfilter: bridgeNetfilter, bridgeNetfilterVLAN: bridgeNetfilterVLAN, vlanFiltering: probed.vlanFiltering, vlanDevices: probed.vlanDevices,
            vxlan: probed.vxlan, bridgeConntrack: conntrack.available, notes: notes)
    }

    /// `ct state` in a bridge-family table needs nf_conntrack_bridge: try it
    /// in a throwaway table that the same batch deletes again.
    private static func probeBridgeConntrack(_ nft: NFTConnection) -> (available: Bool, error: String?) {
        let table = NFTTableID(.bridge, "secgroups_probe")
        let chain = NFTChain(name: "probe", rules: [NFTRule([.anyOf(.ctState, [.integer(2)])], verdict: .accept)])
        do {
            try nft.apply([.addTable(table), .addChain(table, chain), .deleteTable(table)])
            return (true, nil)
        } catch {
            return (false, "\(error)")
        }
    }

    /// A sysctl of this network namespace, nil when it doesn't exist.
    static func sysctl(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/sys/\(path)") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
