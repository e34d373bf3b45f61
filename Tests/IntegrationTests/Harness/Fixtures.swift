import Foundation

extension Host {
    /// VM number `n` on `network`: 10.0.0.n and fd00::n, MAC 52:54:00:00:00:nn
    /// (hex), device tap-NAME. Networks may reuse the numbers: identical
    /// addresses on different networks are allowed.
    func vm(_ name: String, _ n: Int, network: String = "n1", mac: String? = nil, plugged: Bool = true) async throws -> VM {
        try await vm(
            name, network: network, mac: mac ?? String(format: "52:54:00:00:00:%02x", n),
            ips: ["10.0.0.\(n)", "fd00::\(n)"], plugged: plugged)
    }
}

extension PolicyDoc {
    /// A policy with one VXLAN network `n1` (10.0.0.0/24, fd00::/64) and the given hosts.
    static func oneNetwork(_ hosts: Host..., vni: Int = 100) -> PolicyDoc {
        var policy = PolicyDoc()
        policy.network("n1", vni: vni)
        for host in hosts { policy.host(host) }
        return policy
    }
}

/// What this machine's kernel can do, probed in a throwaway namespace.
enum KernelFeatures {
    /// Bridge VLAN filtering (kernel-notes.md: not on the development kernel).
    static let vlanFiltering = Task<Bool, Never> {
        let ns = "sgi\(getpid())-vlanprobe"
        guard (try? await Shell.run(["ip", "netns", "add", ns]))?.succeeded == true else { return false }
        let out = try? await Shell.run(["ip", "-n", ns, "link", "add", "br0", "type", "bridge", "vlan_filtering", "1"])
        await Topology.deleteNamespace(ns)
        return out?.succeeded == true
    }
}
