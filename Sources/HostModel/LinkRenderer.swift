import PolicyModel

/// The link part of a host state as readable lines, each the `ip`/`bridge`
/// command that would create it.
public enum LinkRenderer {
    public static func lines(_ links: LinkState) -> [String] {
        var out: [String] = []
        for bridge in links.bridges.values.sorted(by: { $0.name < $1.name }) {
            out.append("ip link add \(bridge.name) type bridge\(bridge.vlanFiltering ? " vlan_filtering 1" : "")")
        }
        for dev in links.vxlans.values.sorted(by: { $0.name < $1.name }) {
            var line = "ip link add \(dev.name) type vxlan id \(dev.vni)"
            if let local = dev.local { line += " local \(local)" }
            if let underlay = dev.underlay { line += " dev \(underlay)" }
            line += " dstport \(dev.port); ip link set \(dev.name) master \(dev.bridge)"
            out.append(line)
        }
        for entry in links.floods.sorted() {
            out.append("bridge fdb append 00:00:00:00:00:00 dev \(entry.device) dst \(entry.remote)")
        }
        for (device, trunk) in links.trunks.sorted(by: { $0.key < $1.key }) {
            let vlans = trunk.vlans.sorted().map(String.init).joined(separator: ",")
            out.append("ip link set \(device) master \(trunk.bridge); bridge vlan add dev \(device) vid \(vlans.isEmpty ? "-" : vlans)")
        }
        for (device, port) in links.ports.sorted(by: { $0.key < $1.key }) {
            var line = "ip link set \(device) master \(port.bridge)"
            if let pvid = port.pvid { line += "; bridge vlan add dev \(device) vid \(pvid) pvid untagged" }
            out.append(line)
        }
        return out
    }
}
