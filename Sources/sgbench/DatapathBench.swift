import Foundation
import HostModel
import Netlink
import PolicyCompiler
import PolicyModel
import SyntheticCloud

/// "Datapath": TCP throughput (iperf3) and request/response latency
/// (`scripts/tcp-rr.py`, one byte each way like netperf's TCP_RR) between
/// two VMs on one host, with 0, 1,000, 10,000 other ports' filtering loaded
/// beside theirs. The VMs are namespaces, their NICs veth pairs on a bridge
/// in a host namespace; the other ports' devices don't exist, only their
/// rules and set elements are loaded.
///
/// Variants, each its own host and two VMs, built once and reloaded per size:
/// ours (the compiled tables, loaded over netlink), the linear baseline
/// (Neutron's iptables ruleset with iptables-legacy, the two VMs' ports
/// last so their packets walk past every other port's jumps), no filtering
/// (an empty ruleset with br_netfilter on, as ours needs it), and a bare
/// bridge (br_netfilter off). Variants take turns within every run.
struct DatapathBench {
    let sizes: [Int]
    let runs: Int
    let seconds: Int
    let transactions: Int
    let rrScript: String

    struct Row: Codable {
        var otherPorts: Int
        var variant: String
        var throughputGbps: Double
        var throughputMinGbps: Double
        var rrMeanUs: Double
        var rrP99Us: Double
        var rrMeanMaxUs: Double
        var runs: Int
        /// Versus no filtering (br_netfilter on) at the same size.
        var throughputRatio: Double?
        var rrMeanRatio: Double?
        var loaded: String
    }

    func run() throws -> KernelReport<Row> {
        print("datapath: sizes \(sizes.map(Format.grouped).joined(separator: ", ")), \(runs) runs, iperf3 \(seconds) s, \(transactions) request/responses")
        let filters: [any DatapathFilter] = [
            try OursFilter(topology: try VMPair(label: "ours", script: rrScript)),
            try LinearFilter(topology: try VMPair(label: "linear", script: rrScript)),
            try NoFilter(topology: try VMPair(label: "none", script: rrScript), brNetfilter: true),
            try NoFilter(topology: try VMPair(label: "bare", script: rrScript), brNetfilter: false),
        ]
        var rows: [Row] = []
        var checks: [TargetCheck] = []
        for size in sizes {
            let policy = try DatapathPolicy.make(otherPorts: size)
            var loaded: [String] = []
            for filter in filters {
                loaded.append(try filter.load(policy, host: DatapathPolicy.host))
                try filter.topology.waitUntilConnected()
                let probe = try filter.topology.probeClosedPort()
                let expected = filter.filters ? "timeout" : "refused"
                guard probe == expected else {
                    throw BenchError("\(filter.name), \(size) other ports: a closed port answers \(probe), expected \(expected)")
                }
            }
            var throughput = [Samples](repeating: Samples(), count: filters.count)
            var rrMean = [Samples](repeating: Samples(), count: filters.count)
            var rrP99 = [Samples](repeating: Samples(), count: filters.count)
            for run in 0..<runs {
                Idle.note()
                for k in filters.indices {
                    let f = (k + run) % filters.count
                    throughput[f].add(try filters[f].topology.throughput(seconds: seconds))
                    let rr = try filters[f].topology.requestResponse(transactions: transactions)
                    rrMean[f].add(rr.meanUs)
                    rrP99[f].add(rr.p99Us)
                }
                print("  \(Format.grouped(size)) other ports, run \(run + 1)/\(runs) done")
            }
            let none = filters.firstIndex { $0 is NoFilter }!
            for (f, filter) in filters.enumerated() {
                let values = throughput[f].values
                rows.append(Row(
                    otherPorts: size, variant: filter.name, throughputGbps: throughput[f].median,
                    throughputMinGbps: values.min() ?? .nan, rrMeanUs: rrMean[f].median, rrP99Us: rrP99[f].median,
                    rrMeanMaxUs: rrMean[f].max, runs: throughput[f].count,
                    throughputRatio: throughput[f].median / throughput[none].median,
                    rrMeanRatio: rrMean[f].median / rrMean[none].median, loaded: loaded[f]))
            }
            let ours = rows[rows.count - filters.count]
            checks.append(TargetCheck(target: "\(Format.grouped(size)) other ports: ours' throughput within 10% of no filtering",
                measured: String(format: "%.1f%%", (ours.throughputRatio! - 1) * 100), met: ours.throughputRatio! >= 0.9))
            checks.append(TargetCheck(target: "\(Format.grouped(size)) other ports: ours' request/response latency within 10% of no filtering",
                measured: String(format: "%+.1f%%", (ours.rrMeanRatio! - 1) * 100), met: ours.rrMeanRatio! <= 1.1))
        }

        var table = Table("other ports", "variant", "TCP Gbit/s", "min", "vs none", "RR mean µs", "RR p99 µs", "vs none", "loaded")
        for row in rows {
            table.add([Format.grouped(row.otherPorts), row.variant, String(format: "%.2f", row.throughputGbps),
                String(format: "%.2f", row.throughputMinGbps), row.throughputRatio.map { String(format: "%.2f", $0) } ?? "",
                String(format: "%.1f", row.rrMeanUs), String(format: "%.1f", row.rrP99Us),
                row.rrMeanRatio.map { String(format: "%.2f", $0) } ?? "", row.loaded])
        }
        print("\nDatapath: two VMs on one bridge, other ports' filtering loaded beside theirs (median of \(runs) runs)\n" + table.render())
        var targetTable = Table("target", "measured", "result")
        for check in checks { targetTable.add(check.row) }
        print("\n" + targetTable.render())

        return KernelReport(benchmark: "datapath", parameters: [
            "sizes": sizes.map(String.init).joined(separator: ","), "runs": String(runs),
            "iperf3 seconds": String(seconds), "request/responses": String(transactions),
            "linear baseline": "Neutron iptables_hybrid layout, iptables-legacy, ipsets for remote groups, measured ports last",
            "qemu-system seen during the run": Idle.seenText,
        ], rows: rows, targets: checks)
    }
}

// MARK: - The policy

/// The two VMs' network, group and ports, beside a synthetic host's others.
enum DatapathPolicy {
    static let host = "hv1"
    static let server = "10.250.0.12"
    static let vms: [(name: String, device: String, mac: UInt64, ip: String)] = [
        ("bench-vm1", "tapbench1", 0x5254_00fa_0001, "10.250.0.11"),
        ("bench-vm2", "tapbench2", 0x5254_00fa_0002, server),
    ]
    static let iperfPort: UInt16 = 5201
    static let rrPort: UInt16 = 7000
    static let closedPort: UInt16 = 7001

    static func make(otherPorts: Int) throws -> Policy {
        var policy = otherPorts == 0
            ? Policy(hosts: [Host(name: host, uplink: "eth1")])
            : SyntheticCloud.generate(CloudShape(hosts: 1, ports: otherPorts, groups: max(10, otherPorts / 10), networks: max(2, otherPorts / 50)))
        policy.networks.append(Network(name: "bench-net", segment: .vxlan(vni: 16_000_000), subnets: [IPPrefix("10.250.0.0/24")!]))
        // A group like a web tier's: a few rules ahead of the ones that match.
        policy.securityGroups.append(SecurityGroup(name: "bench", rules: [
            Rule(direction: .egress),
            Rule(direction: .ingress, proto: .icmp, remote: .cidr(IPPrefix("0.0.0.0/0")!)),
            Rule(direction: .ingress, proto: .tcp, ports: [PortRange(22)], remote: .cidr(IPPrefix("203.0.113.0/24")!)),
            Rule(direction: .ingress, proto: .tcp, ports: [PortRange(80), PortRange(443)]),
            Rule(direction: .ingress, proto: .tcp, ports: [PortRange(iperfPort)], remote: .group("bench")),
            Rule(direction: .ingress, proto: .tcp, ports: [PortRange(rrPort)], remote: .group("bench")),
        ]))
        for vm in vms {
            policy.ports.append(Port(
                name: vm.name, host: host, device: vm.device, network: "bench-net", mac: MACAddress(rawValue: vm.mac),
                ips: [.v4(IPv4Address(vm.ip)!)], securityGroups: ["bench"]))
        }
        switch PolicyDecoder.decode(json: Array(PolicyEncoder.json(policy).utf8)) {
        case .success: return policy
        case .failure(let error): throw BenchError("the datapath policy is invalid: \(String(describing: error).prefix(1000))")
        }
    }
}

// MARK: - Two VMs on a bridge

/// A host namespace with a bridge, and two VM namespaces whose `eth0` is a
/// veth pair with the other end on that bridge. The second VM runs an
/// iperf3 server and the request/response server for the topology's life.
final class VMPair {
    static let bridge = "sgbr-bench"
    let host: Namespace
    let vms: [Namespace]
    let script: String
    private var servers: [Process] = []

    init(label: String, script: String) throws {
        self.script = script
        host = try Namespace("dp-\(label)")
        vms = [try Namespace("dp-\(label)-a"), try Namespace("dp-\(label)-b")]
        try host.run(["ip", "link", "add", Self.bridge, "type", "bridge"])
        try host.run(["ip", "link", "set", Self.bridge, "up"])
        for (vm, spec) in zip(vms, DatapathPolicy.vms) {
            try host.run(["ip", "link", "add", spec.device, "type", "veth", "peer", "name", "eth0", "netns", vm.name])
            try host.run(["ip", "link", "set", spec.device, "master", Self.bridge, "up"])
            try vm.run(["ip", "link", "set", "lo", "up"])
            try vm.run(["ip", "link", "set", "eth0", "address", MACAddress(rawValue: spec.mac).description])
            try vm.run(["ip", "addr", "add", "\(spec.ip)/24", "dev", "eth0"])
            try vm.run(["ip", "link", "set", "eth0", "up"])
        }
        servers.append(try vms[1].start(["iperf3", "--server", "--port", String(DatapathPolicy.iperfPort)]))
        servers.append(try vms[1].start(["python3", script, "server", "--port", String(DatapathPolicy.rrPort)]))
        for server in servers { NamespaceRegistry.shared.track(server.processIdentifier) }
    }

    deinit {
        for server in servers {
            server.terminate()
            server.waitUntilExit()
            NamespaceRegistry.shared.untrack(server.processIdentifier)
        }
    }

    func setBrNetfilter(_ on: Bool) throws {
        for family in ["iptables", "ip6tables"] {
            try host.run(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-\(family)=\(on ? 1 : 0)"])
        }
    }

    /// Waits (up to 5 s) until the request/response server answers.
    func waitUntilConnected() throws {
        for _ in 0..<50 {
            let answer = try vms[0].run(["python3", script, "probe", "--host", DatapathPolicy.server, "--port", String(DatapathPolicy.rrPort)])
            if answer.hasPrefix("open") { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw BenchError("\(host.name): VM 2 does not answer on port \(DatapathPolicy.rrPort)")
    }

    /// What a connection to a port nobody listens on sees: "timeout" when a
    /// filter drops it, "refused" when the VM's kernel answers.
    func probeClosedPort() throws -> String {
        try vms[0].run(["python3", script, "probe", "--host", DatapathPolicy.server, "--port", String(DatapathPolicy.closedPort)])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// iperf3 from VM 1 to VM 2, one stream; Gbit/s received (first second omitted).
    func throughput(seconds: Int) throws -> Double {
        let out = try vms[0].run(["iperf3", "--client", DatapathPolicy.server, "--port", String(DatapathPolicy.iperfPort),
            "--time", String(seconds), "--omit", "1", "--json"])
        guard let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
            let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
            let bits = received["bits_per_second"] as? Double
        else { throw BenchError("iperf3 printed no result: \(out.prefix(300))") }
        return bits / 1e9
    }

    struct RR: Decodable {
        var transactions: Int
        var meanUs: Double
        var p99Us: Double
        enum CodingKeys: String, CodingKey { case transactions, meanUs = "mean_us", p99Us = "p99_us" }
    }

    /// At most `transactions` request/responses, and at most 3 s of them
    /// (the linear baseline at 10,000 ports takes ~20 ms each).
    func requestResponse(transactions: Int) throws -> RR {
        let out = try vms[0].run(["python3", script, "client", "--host", DatapathPolicy.server,
            "--port", String(DatapathPolicy.rrPort), "--count", String(transactions), "--seconds", "3"])
        return try JSONDecoder().decode(RR.self, from: Data(out.utf8))
    }
}

// MARK: - What filters the bridge

protocol DatapathFilter: AnyObject {
    var name: String { get }
    var topology: VMPair { get }
    /// Whether a closed port's SYN is dropped (as opposed to refused).
    var filters: Bool { get }
    /// Replaces whatever is loaded with the policy's filtering; says what it loaded.
    func load(_ policy: Policy, host: String) throws -> String
}

/// Our compiled tables, changed from whatever is loaded by one netlink batch.
final class OursFilter: DatapathFilter {
    let topology: VMPair
    private let nft: NFTConnection
    private var loaded = HostState()
    var name: String { "ours" }
    var filters: Bool { true }

    init(topology: VMPair) throws {
        self.topology = topology
        try topology.setBrNetfilter(true)
        nft = try NetworkNamespace.run(path: topology.host.path) { try NFTConnection() }
    }

    func load(_ policy: Policy, host: String) throws -> String {
        var desired = try PolicyCompiler(policy).compile(host: host)
        desired.links = LinkState()
        try nft.apply(diff(loaded, desired).nft, definitions: NFTConnection.definitions(of: Array(loaded.tables.values)))
        loaded = desired
        let size = desired.nftSize
        return "\(Format.grouped(size.rules)) rules, \(Format.grouped(size.elements)) elements"
    }
}

/// Neutron's linear ruleset, iptables-legacy, with the two VMs' ports last.
final class LinearFilter: DatapathFilter {
    let topology: VMPair
    var name: String { "linear (iptables-legacy)" }
    var filters: Bool { true }

    init(topology: VMPair) throws {
        self.topology = topology
        try topology.setBrNetfilter(true)
    }

    func load(_ policy: Policy, host: String) throws -> String {
        let ruleset = NeutronRuleset(policy: policy, host: host, last: DatapathPolicy.vms.map(\.device))
        let ns = topology.host
        // Empty tables first, so the old sets are unreferenced and can go.
        try ns.run(["iptables-legacy-restore"], stdin: "*raw\nCOMMIT\n*filter\nCOMMIT\n")
        try ns.run(["ipset", "destroy"])
        try ns.run(["ipset", "restore", "-exist"], stdin: ruleset.ipsets)
        try ns.run(["iptables-legacy-restore"], stdin: ruleset.iptables)
        return "\(Format.grouped(ruleset.ruleCount)) rules"
    }
}

/// The bridge with nothing loaded; br_netfilter on or off.
final class NoFilter: DatapathFilter {
    let topology: VMPair
    let brNetfilter: Bool
    var name: String { brNetfilter ? "no filtering (br_netfilter on)" : "bare bridge (br_netfilter off)" }
    var filters: Bool { false }

    init(topology: VMPair, brNetfilter: Bool) throws {
        self.topology = topology
        self.brNetfilter = brNetfilter
        try topology.setBrNetfilter(brNetfilter)
    }

    func load(_ policy: Policy, host: String) throws -> String { "nothing" }
}
