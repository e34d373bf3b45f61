import ArgumentParser
import Foundation
import PolicyCompiler
import PolicyModel
import SyntheticCloud

@main
struct SGBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgbench",
        abstract: "Measures decoding and compiling a synthetic cloud's policy, and (root) applying it and its datapath.",
        discussion: """
            Build with -c release; debug builds are many times slower. With --apply-bench or --datapath \
            only those run (add --kernel to run the compile figures too); both need root, iptables, ipset, \
            iperf3 and python3, and work in throwaway network namespaces named sgbench-*.
            """)

    @Option(help: "Hypervisors.") var hosts = CloudShape.large.hosts
    @Option(help: "Ports (VM NICs).") var ports = CloudShape.large.ports
    @Option(help: "Security groups.") var groups = CloudShape.large.groups
    @Option(help: "Networks.") var networks = CloudShape.large.networks
    @Option(help: "Rules per security group.") var rulesPerGroup = CloudShape.large.rulesPerGroup
    @Option(help: "Most groups a port joins.") var groupsPerPort = CloudShape.large.groupsPerPort
    @Option(help: "Generator seed.") var seed: UInt64 = CloudShape.large.seed
    @Option(help: "Where to write the results as JSON.") var json = "bench-results/compile.json"
    @Option(help: "Also write the generated policy (pretty JSON) to this file.") var policyOut: String?
    @Option(help: "Hosts timed one by one for the single-host figures.") var sampleHosts = 200
    @Option(help: "Threads for the parallel compile.") var workers = 2
    @Option(help: "Runs of the repeated measurements (median is reported).") var runs = 3
    @Flag(help: "Also measure loading the busiest host into a kernel and changing it (root: uses a throwaway network namespace).")
    var kernel = false

    @Flag(help: "Also measure one change at a time through the incremental controller, beside compiling every host.")
    var controller = false
    @Option(help: "Changes per kind timed through the controller.") var controllerSamples = 200
    @Option(help: "Of those, changes per kind also done the naive way (each compiles every host).") var naiveSamples = 3

    @Flag(help: "Host kernel apply: one port's change on a host with --apply-ports ports; ours vs nft -f vs iptables-restore (root).")
    var applyBench = false
    @Option(help: "Ports on the host of --apply-bench.") var applyPorts = 2000
    @Option(help: "Times each change is made per variant in --apply-bench.") var applyRuns = 20
    @Option(help: "iptables backends of --apply-bench, comma-separated: legacy, nft.")
    var iptables = "legacy,nft"
    @Option(help: "Where --apply-bench writes its JSON.") var applyJson = "bench-results/apply.json"

    @Flag(help: "Datapath: throughput and request/response latency between two VMs; ours vs linear iptables vs none (root).")
    var datapath = false
    @Option(help: "Other ports loaded beside the two VMs, comma-separated.") var datapathSizes = "0,1000,10000"
    @Option(help: "Runs per size and variant in --datapath (median is reported).") var datapathRuns = 3
    @Option(help: "Seconds of each iperf3 run.") var datapathSeconds = 5
    @Option(help: "Request/responses of each latency run.") var datapathTransactions = 20_000
    @Option(help: "Where --datapath writes its JSON.") var datapathJson = "bench-results/datapath.json"
    @Flag(help: "Distribution: port changes through the controller, etcd and sgd on three hosts, timed from publish to kernel (root; etcd-server).")
    var etcdLoad = false
    @Option(help: "Port changes of --etcd-load.") var etcdChanges = 1000
    @Option(help: "Where --etcd-load writes its JSON.") var etcdJson = "bench-results/etcd-load.json"

    @Flag(help: "Before --apply-bench/--datapath, wait until no qemu-system process runs (a shared machine).")
    var waitForIdle = false

    static let allHostsTarget = Duration.seconds(2)
    static let oneHostTarget = Duration.milliseconds(20)

    var shape: CloudShape {
        CloudShape(
            hosts: hosts, ports: ports, groups: groups, networks: networks, rulesPerGroup: rulesPerGroup,
            groupsPerPort: groupsPerPort, seed: seed)
    }

    func validate() throws {
        guard hosts > 0, networks > 0, ports >= 0, groups >= 0, rulesPerGroup >= 0, groupsPerPort >= 1 else {
            throw ValidationError("need at least one host and network, and no negative counts")
        }
        guard sampleHosts > 0, workers > 0, runs > 0 else {
            throw ValidationError("--sample-hosts, --workers and --runs must be positive")
        }
        guard applyPorts >= 2, applyRuns > 0, datapathRuns > 0, datapathSeconds >= 2, datapathTransactions > 0 else {
            throw ValidationError("--apply-ports needs at least 2; runs, seconds (≥ 2) and transactions must be positive")
        }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 0 }), sizes.count == datapathSizes.split(separator: ",").count else {
            throw ValidationError("--datapath-sizes: comma-separated counts, e.g. 0,1000,10000")
        }
        guard !backends.isEmpty, backends.count == iptables.split(separator: ",").count else {
            throw ValidationError("--iptables: comma-separated, of legacy and nft")
        }
    }

    var sizes: [Int] { datapathSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var backends: [IPTablesBackend] { iptables.split(separator: ",").compactMap { IPTablesBackend(rawValue: String($0)) } }

    func run() async throws {
        if !applyBench && !datapath && !etcdLoad || kernel { try runCompile() }
        guard applyBench || datapath || etcdLoad else { return }
        guard geteuid() == 0 else { throw BenchError("--apply-bench, --datapath and --etcd-load need root (network namespaces)") }
        NamespaceRegistry.shared.installCleanup()
        Namespace.removeStale()
        if waitForIdle { Idle.waitForNoQEMU() } else { Idle.warnIfQEMU() }
        if applyBench {
            let report = try HostApplyBench(ports: applyPorts, runs: applyRuns, backends: backends).run()
            try report.write(to: applyJson)
            print("\nwrote \(applyJson)")
        }
        if etcdLoad {
            // sgd is built beside sgbench (swift build -c release).
            let sgd = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                .deletingLastPathComponent().appendingPathComponent("sgd").path
            guard FileManager.default.isExecutableFile(atPath: sgd) else { throw BenchError("\(sgd) is missing: swift build -c release") }
            let report = try await EtcdLoadBench(changes: etcdChanges, sgd: sgd).run()
            try report.write(to: etcdJson)
            print("\nwrote \(etcdJson)")
        }
        if datapath {
            let report = try DatapathBench(
                sizes: sizes, runs: datapathRuns, seconds: datapathSeconds, transactions: datapathTransactions,
                rrScript: Self.script("tcp-rr.py")
            ).run()
            try report.write(to: datapathJson)
            print("\nwrote \(datapathJson)")
        }
    }

    /// A script of the repository's `scripts/` folder, found from this source
    /// file (a checkout) or the working directory.
    static func script(_ name: String) -> String {
        let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/\(name)").path
        return FileManager.default.fileExists(atPath: fromSource) ? fromSource : "scripts/\(name)"
    }

    func runCompile() throws {
        print("sgbench: \(shape)")
        var results: [Measurement] = []
        func record(_ measurement: Measurement) {
            results.append(measurement)
            print("  \(measurement.name): \(Format.value(measurement.value, measurement.unit))")
        }

        let (policy, generateTime) = timed { SyntheticCloud.generate(shape) }
        record(.time("generate", generateTime))

        let (text, encodeTime) = timed { PolicyEncoder.json(policy) }
        let bytes = Array(text.utf8)
        record(.time("encode JSON", encodeTime))
        record(Measurement("policy JSON size", Double(bytes.count), .bytes))
        if let policyOut {
            try PolicyEncoder.json(policy, pretty: true).write(toFile: policyOut, atomically: true, encoding: .utf8)
        }

        let (decoded, decodeTime) = medianTimed(runs: runs) { PolicyDecoder.decode(json: bytes) }
        record(.time("decode + validate", decodeTime, note: "median of \(runs)"))
        try check(decoded, equals: policy)

        let (compiler, indexTime) = medianTimed(runs: runs) { PolicyCompiler(policy) }
        record(.time("index build", indexTime, note: "median of \(runs)"))

        let hostNames = compiler.index.hostNames
        let (size, serialTime) = medianTimed(runs: runs) { compiler.compileAll(hostNames) }
        try check(size)
        record(.time("compile all hosts, 1 thread", serialTime, target: Self.allHostsTarget, note: "median of \(runs)"))

        let (parallelSize, parallelTime) = medianTimed(runs: runs) {
            compiler.compileAllParallel(hostNames, workers: workers)
        }
        try check(parallelSize)
        record(.time(
            "compile all hosts, \(workers) thread\(workers == 1 ? "" : "s")", parallelTime, target: Self.allHostsTarget,
            note: "median of \(runs); \(ProcessInfo.processInfo.activeProcessorCount) cores"))

        let sample = sampleOfHosts(hostNames)
        let times = compiler.singleHostTimes(sample)
        let note = "\(sample.count) hosts, shared index"
        record(.time("one host p50", percentile(times, 50), note: note))
        record(.time("one host p99", percentile(times, 99), target: Self.oneHostTarget, note: note))
        record(.time("one host max", times.last!, note: note))

        record(Measurement("nft chains, all hosts", Double(size.chains), .count))
        record(Measurement("nft rules, all hosts", Double(size.rules), .count))
        record(Measurement("nft sets, all hosts", Double(size.sets), .count))
        record(Measurement("nft set elements, all hosts", Double(size.elements), .count))
        record(Measurement("peak memory (maxrss)", peakMemoryKiB(), .kibibytes))

        if kernel { try KernelBench(policy: policy, compiler: compiler, record: record).run() }
        if controller {
            let rows = try ControllerBench(policy: policy, samples: controllerSamples, naiveSamples: naiveSamples, record: record).run()
            try ControllerReport(shape: shape, rows: rows).write(to: json.replacingOccurrences(of: ".json", with: "-controller.json"))
        }

        printTable(results)
        let report = BenchReport(shape: shape, workers: workers, runs: runs, measurements: results)
        try report.write(to: json)
        print("\nwrote \(json)")
    }

    /// `--sample-hosts` hosts, picked with the cloud's seed (all when there are fewer).
    func sampleOfHosts(_ names: [String]) -> [String] {
        var rng = SplitMix64(seed: seed)
        var shuffled = names
        rng.shuffle(&shuffled)
        return Array(shuffled.prefix(sampleHosts))
    }

    func printTable(_ results: [Measurement]) {
        var table = Table("measurement", "value", "target", "result", "note")
        for measurement in results { table.add(measurement.row) }
        print("\n" + table.render())
    }

    func check(_ decoded: Result<Policy, PolicyError>, equals policy: Policy) throws {
        switch decoded {
        case .success(let value) where value == policy:
            return
        case .success:
            throw BenchError("the decoded policy differs from the generated one")
        case .failure(let error):
            throw BenchError("the generated policy does not decode: \(String(describing: error).prefix(2000))")
        }
    }

    func check(_ size: OutputSize) throws {
        if let error = size.firstError {
            throw BenchError("\(size.failures) hosts failed to compile; first: \(error)")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
