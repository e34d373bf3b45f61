import Controller
import Foundation
import HostModel
import PolicyCompiler
import PolicyModel
import SyntheticCloud

/// The control plane's figures: the latency of one change through the
/// incremental controller, for each kind of change a cloud sees, with the
/// hosts it touches and the kernel operations it asks for; beside it, in
/// the same run, the naive way (index the new policy, compile every host,
/// diff each against its previous state). Both must name the same hosts and
/// operations; the benchmark checks it on every naive sample.
struct ControllerBench {
    let policy: Policy
    /// Changes timed per kind through the controller.
    let samples: Int
    /// Of those, how many are also done the naive way (each costs a full compile).
    let naiveSamples: Int
    let record: (Measurement) -> Void

    static let oneChangeTarget = Duration.milliseconds(1)

    struct Row: Codable {
        var kind: String
        var samples: Int
        var p50: Double
        var p99: Double
        var max: Double
        var hostsTouchedMean: Double
        var hostsTouchedMax: Int
        var operationsMean: Double
        var naiveSamples: Int
        var naiveMedian: Double
        var naiveHostsTouchedMean: Double
    }

    func run() throws -> [Row] {
        let (controller, buildTime) = try timed { try Controller(policy: policy) }
        record(.time("controller: build (index + compile every host)", buildTime))
        var generator = ChangeGenerator(seed: 7)
        var rows: [Row] = []
        for kind in ChangeGenerator.Kind.allCases {
            var times: [Duration] = []
            var touched: [Int] = []
            var operations: [Int] = []
            var naiveTimes: [Duration] = []
            var naiveTouched: [Int] = []
            var attempts = 0
            while times.count < samples && attempts < samples * 20 {
                attempts += 1
                guard let change = generator.change(kind, in: controller.index) else { continue }
                let naive = naiveTimes.count < naiveSamples
                let before = naive ? controller.policy : nil
                let statesBefore = naive ? Dictionary(uniqueKeysWithValues: policy.hosts.map { ($0.name, controller.state(of: $0.name)) }) : [:]
                let result: ChangeResult
                let time: Duration
                do {
                    (result, time) = try timed { try controller.apply([change]) }
                } catch {
                    continue  // the generator made an invalid change (say, a taken address): not a sample
                }
                times.append(time)
                touched.append(result.deltas.count)
                operations.append(result.operationCount)
                if naive, before != nil {
                    let after = controller.policy
                    let (deltas, naiveTime) = timed { Self.naive(after, previous: statesBefore) }
                    naiveTimes.append(naiveTime)
                    naiveTouched.append(deltas.count)
                    guard deltas == result.deltas else {
                        throw BenchError("\(kind): the controller's deltas differ from compiling every host (\(result.hosts) vs \(deltas.keys.sorted()))")
                    }
                }
            }
            guard !times.isEmpty else { throw BenchError("\(kind): no valid change generated") }
            times.sort()
            let row = Row(
                kind: kind.rawValue, samples: times.count, p50: percentile(times, 50).milliseconds,
                p99: percentile(times, 99).milliseconds, max: times.last!.milliseconds,
                hostsTouchedMean: mean(touched), hostsTouchedMax: touched.max() ?? 0, operationsMean: mean(operations),
                naiveSamples: naiveTimes.count, naiveMedian: naiveTimes.isEmpty ? 0 : median(naiveTimes).milliseconds,
                naiveHostsTouchedMean: mean(naiveTouched))
            rows.append(row)
            record(.time("controller: \(kind.rawValue) p99", percentile(times, 99), target: Self.oneChangeTarget,
                         note: "p50 \(Format.value(row.p50, .milliseconds)), \(row.samples) changes, hosts touched mean \(Self.decimal(row.hostsTouchedMean)) max \(row.hostsTouchedMax), ops mean \(Self.decimal(row.operationsMean))"))
            if !naiveTimes.isEmpty {
                record(.time("naive: \(kind.rawValue) (compile all + diff)", median(naiveTimes),
                             note: "median of \(naiveTimes.count); \(Self.decimal(row.naiveMedian / row.p50))x the controller's p50"))
            }
        }
        printTable(rows)
        return rows
    }

    /// The naive way: every host compiled from the new policy and diffed.
    static func naive(_ policy: Policy, previous: [String: HostState]) -> [String: HostDelta] {
        let compiler = PolicyCompiler(policy)
        var deltas: [String: HostDelta] = [:]
        for host in policy.hosts {
            let new = (try? compiler.compile(host: host.name)) ?? HostState()
            let delta = diff(previous[host.name] ?? HostState(), new)
            if !delta.isEmpty { deltas[host.name] = delta }
        }
        return deltas
    }

    private func printTable(_ rows: [Row]) {
        var table = Table("change", "p50 ms", "p99 ms", "max ms", "hosts touched (mean/max)", "ops (mean)", "naive ms (median)", "naive / ours p50")
        for row in rows {
            table.add([
                row.kind, Self.decimal(row.p50, 3), Self.decimal(row.p99, 3), Self.decimal(row.max, 3),
                "\(Self.decimal(row.hostsTouchedMean)) / \(row.hostsTouchedMax)", Self.decimal(row.operationsMean),
                row.naiveSamples == 0 ? "-" : Self.decimal(row.naiveMedian, 0),
                row.naiveSamples == 0 ? "-" : "\(Self.decimal(row.naiveMedian / row.p50, 0))x",
            ])
        }
        print("\ncontrol plane, one change at a time (\(policy.hosts.count) hosts, \(policy.ports.count) ports, \(policy.securityGroups.count) groups)\n" + table.render())
    }

    private func mean(_ values: [Int]) -> Double { values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count) }

    static func decimal(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
}

/// Random changes of each kind against the current policy, the way a cloud
/// sees them: VMs boot next to their network's other VMs, join groups of
/// their own kind, get a VIP; groups gain and lose rules.
struct ChangeGenerator {
    enum Kind: String, CaseIterable {
        case vmBoots = "VM boots (port added)"
        case vmDeleted = "VM deleted (port removed)"
        case joinsGroup = "port joins a group"
        case leavesGroup = "port leaves a group"
        case addressPairAdded = "address pair added"
        case vmMigrates = "VM migrates to another host"
        case ruleAdded = "rule added to a group"
        case ruleRemoved = "rule removed from a group"
    }

    var rng: SplitMix64
    var counter = 0
    /// Names picked from, taken once from the first index seen: ports
    /// removed since are skipped, ports added are not picked.
    var portNames: [String] = []
    var groupNames: [String] = []

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func change(_ kind: Kind, in index: PolicyIndex) -> PolicyChange? {
        counter += 1
        if portNames.isEmpty {
            portNames = index.portNames
            groupNames = index.groupNames
        }
        guard !portNames.isEmpty, !groupNames.isEmpty, let port = index.port(rng.pick(portNames)) else { return nil }
        switch kind {
        case .vmBoots:
            var new = port
            new.name = "bench-vm-\(counter)"
            new.device = "tapb\(counter)"
            new.mac = MACAddress(rawValue: 0x0266_0000_0000 | UInt64(counter))
            new.allowedAddressPairs = []
            guard let ip = port.ips.first.flatMap({ freeAddress(near: $0, on: port.network, in: index) }) else { return nil }
            new.ips = [ip]
            return .setPort(new)
        case .vmDeleted:
            return .removePort(port.name)
        case .joinsGroup:
            let stateful = port.securityGroups.first.flatMap { index.group($0)?.stateful } ?? true
            let group = rng.pick(groupNames)
            guard port.portSecurity, !port.securityGroups.contains(group), index.group(group)?.stateful == stateful else { return nil }
            return .setPortGroups(port: port.name, port.securityGroups + [group])
        case .leavesGroup:
            guard port.securityGroups.count >= 2 else { return nil }
            return .setPortGroups(port: port.name, Array(port.securityGroups.dropLast()))
        case .addressPairAdded:
            guard let ip = port.ips.first.flatMap({ freeAddress(near: $0, on: port.network, in: index) }) else { return nil }
            return .setPortAddresses(port: port.name, ips: port.ips, allowedAddressPairs: port.allowedAddressPairs + [AddressPair(ip: IPPrefix(host: ip))])
        case .vmMigrates:
            var moved = port
            moved.host = rng.pick(index.hostNames)
            moved.device = "tapm\(counter)"
            guard moved.host != port.host else { return nil }
            return .setPort(moved)
        case .ruleAdded:
            guard let group = index.group(rng.pick(groupNames)) else { return nil }
            let rule = Rule(direction: .ingress, proto: .tcp, ports: [PortRange(UInt16(1024 + rng.below(60000)))])
            return .setGroupRules(group: group.name, group.rules + [rule])
        case .ruleRemoved:
            guard let group = index.group(rng.pick(groupNames)), !group.rules.isEmpty else { return nil }
            var rules = group.rules
            rules.remove(at: rng.below(rules.count))
            return .setGroupRules(group: group.name, rules)
        }
    }

    /// An address of the network not yet used, a little above `address`.
    private func freeAddress(near address: IPAddress, on network: String, in index: PolicyIndex) -> IPAddress? {
        guard case .v4(let v4) = address else { return nil }
        let subnets = index.network(network)?.subnets ?? []
        for step in 1..<512 {
            let candidate = IPAddress.v4(IPv4Address(rawValue: v4.rawValue &+ UInt32(step)))
            if index.owner(ofIP: candidate, on: network) == nil, subnets.isEmpty || subnets.contains(where: { $0.contains(candidate) }) {
                return candidate
            }
        }
        return nil
    }
}

/// What `--controller` writes beside the main JSON file.
struct ControllerReport: Codable {
    var shape: CloudShape
    var rows: [ControllerBench.Row]

    func write(to path: String) throws {
        try writeJSON(self, to: path)
        print("wrote \(path)")
    }
}
