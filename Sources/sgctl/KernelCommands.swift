import ArgumentParser
import Dataplane
import Distribution
import Etcd
import Enforcer
import Foundation
import HostModel
import Netlink
import PlanText
import PolicyCompiler
import PolicyModel

/// Where the kernel work happens: this namespace, or a named one.
struct KernelOptions: ParsableArguments {
    @Option(help: "Work in the named network namespace (as `ip netns exec NAME` would), e.g. a test host.")
    var netns: String?

    /// Runs `body` with a dataplane on this host's kernel (or the namespace's).
    func withDataplane<T>(_ body: (Dataplane, NetlinkKernel) throws -> T) throws -> T {
        try inNamespace {
            let kernel = try NetlinkKernel()
            return try body(Dataplane(kernel: kernel), kernel)
        }
    }

    /// Runs `body` in the namespace (or here): netlink sockets it opens stay there.
    func inNamespace<T>(_ body: () throws -> T) throws -> T {
        guard let netns else { return try body() }
        return try NetworkNamespace.run(path: NetworkNamespace.path(named: netns), body)
    }
}

/// Compiles the policy for the host, exiting 1 when the host isn't in it.
func desiredState(_ policy: Policy, host: String?) throws -> (host: String, state: HostState) {
    let name = host ?? Enforcer.localHostName
    do {
        return (name, try PolicyCompiler(policy).compile(host: name))
    } catch {
        printError("sgctl: \(error)")
        throw ExitStatus.invalidPolicy
    }
}

/// Kernel and capability failures: printed, exit 3, nothing changed.
func kernelFailure(_ error: any Error) -> ExitCode {
    printError("sgctl: \(error)")
    return ExitStatus.kernelError
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change in this host's kernel.",
        discussion: """
            The changes are grouped by the port, security group or profile they are about \
            (the host's own tables, bridges and tunnels last): + added, - deleted, ~ replaced; \
            a replaced chain shows the rules that differ. Plans longer than --limit lines are \
            summarised. With --detailed-exitcode: exit 0 when there is nothing to change, 2 when there is.
            """)

    @OptionGroup var input: PolicyInput
    @OptionGroup var kernel: KernelOptions

    @Option(help: "The host to plan for (default: this machine's short host name).")
    var host: String?

    @Option(help: "text or json.")
    var output: PlanOutput = .text

    @Option(help: "auto (when standard output is a terminal and NO_COLOR is unset), always or never.")
    var color: ColorMode = .auto

    @Option(help: "Summarise plans longer than this many lines.")
    var limit: Int = PlanRenderer.defaultLimit

    @Flag(help: "Show every change, however long the plan.")
    var full = false

    @Flag(help: "Exit 2 when there are changes, 0 when there are none.")
    var detailedExitcode = false

    enum PlanOutput: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let policy = try input.load()
        let (hostName, desired) = try desiredState(policy, host: host)
        let plan: Plan
        let observed: HostState?
        do {
            (plan, observed) = try kernel.withDataplane { dataplane, _ in
                let plan = try dataplane.plan(desired)
                // The plan holds only the new rules of a chain it replaces;
                // reading the kernel once more gives the old ones, to show
                // what differs, and the slots of ports being removed.
                let observed = output == .text && !plan.isEmpty
                    ? try dataplane.observe(uplinks: Set(desired.links.trunks.keys)) : nil
                return (plan, observed)
            }
        } catch {
            throw kernelFailure(error)
        }
        switch output {
        case .json:
            try printJSON(plan)
        case .text:
            let view = PlanView(
                host: hostName, delta: plan.delta, policy: policy, desired: desired, observed: observed,
                pending: plan.pending, pendingDevices: plan.pendingPorts)
            let colored = color.usesColor(isTerminal: isatty(STDOUT_FILENO) == 1, environment: ProcessInfo.processInfo.environment)
            let renderer = PlanRenderer(style: TextStyle(colored: colored), limit: full ? nil : limit)
            for line in renderer.render(view) { print(line) }
        }
        if detailedExitcode && !plan.isEmpty { throw ExitStatus.changesPending }
    }
}

extension ColorMode: ExpressibleByArgument {}

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make this host's kernel match the policy; print a one-line summary. With --etcd, publish every host's state for the hosts' sgd instead.",
        discussion: """
            Exit 3 on a kernel error: the nftables batch is atomic, so nothing changed. \
            With --etcd: every host of the policy is compiled and the keys of the hosts \
            whose state changed are written with the next policy revision, guarded by a \
            compare-and-swap (exit 3 when etcd fails or another publisher went first).
            """)

    @OptionGroup var input: PolicyInput
    @OptionGroup var kernel: KernelOptions

    @Option(help: "The host to apply for (default: this machine's short host name).")
    var host: String?

    @Option(help: "Publish to etcd (URL[,URL...]) instead of applying here.")
    var etcd: String?

    @OptionGroup var etcdOptions: EtcdOptions

    func run() async throws {
        let policy = try input.load()
        if let etcd {
            try await publish(policy, endpoints: etcd.split(separator: ",").map(String.init))
            return
        }
        let (hostName, desired) = try desiredState(policy, host: host)
        let start = ContinuousClock.now
        let plan: Plan
        do {
            plan = try kernel.withDataplane { dataplane, _ in try dataplane.apply(try dataplane.plan(desired)) }
        } catch {
            throw kernelFailure(error)
        }
        let elapsed = ContinuousClock.now - start
        var line = "host \(hostName): \(DeltaRenderer.summary(plan.delta)) (\(plan.delta.operationCount) operations, \(milliseconds(elapsed)))"
        if !plan.pending.isEmpty { line += "; \(plan.pending.count) pending" }
        print(line)
        for item in plan.pending { print("pending: \(item)") }
    }

    /// Compiles every host and publishes the changed ones.
    func publish(_ policy: Policy, endpoints: [String]) async throws {
        let compiler = PolicyCompiler(policy)
        var states: [String: HostState] = [:]
        for host in policy.hosts {
            do {
                states[host.name] = try compiler.compile(host: host.name)
            } catch {
                printError("sgctl: \(error)")
                throw ExitStatus.invalidPolicy
            }
        }
        let start = ContinuousClock.now
        let client = try EtcdClient(endpoints: endpoints, tls: etcdOptions.tls)
        let label = input.policy == "-" ? "stdin" : URL(fileURLWithPath: input.policy).lastPathComponent
        let result: PublishResult
        do {
            result = try await EtcdPublisher(client: client, layout: etcdOptions.layout).publish(states: states, label: label)
        } catch {
            try? await client.shutdown()
            printError("sgctl: \(error)")
            throw ExitStatus.kernelError
        }
        try? await client.shutdown()
        let hosts = result.written.isEmpty ? "" : ": " + result.written.prefix(20).joined(separator: ", ") + (result.written.count > 20 ? ", ..." : "")
        if result.transactions == 0 {
            print("etcd: nothing changed (revision \(result.revision), \(result.unchanged) hosts)")
        } else {
            print("etcd: revision \(result.revision): \(result.written.count) hosts written, \(result.removed.count) removed, \(result.unchanged) unchanged (\(result.keys) keys, \(result.bytes) bytes, \(result.transactions) transactions, \(milliseconds(ContinuousClock.now - start)))\(hosts)")
        }
    }
}

func milliseconds(_ duration: Duration) -> String {
    duration.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1)))
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe the kernel and say which segment types and datapath are usable here.")

    @OptionGroup var kernel: KernelOptions

    func run() throws {
        let caps: KernelCapabilities
        do {
            caps = try kernel.withDataplane { _, kernel in try kernel.capabilities() }
        } catch {
            throw kernelFailure(error)
        }
        func mark(_ ok: Bool) -> String { ok ? "yes" : "no " }
        print("\(mark(caps.bridgeNetfilter))  br_netfilter (bridged IP through inet hooks)   CONFIG_BRIDGE_NETFILTER, bridge-nf-call-iptables=1")
        print("\(mark(caps.bridgeNetfilterVLAN))  br_netfilter for VLAN-tagged frames          bridge-nf-filter-vlan-tagged=1 (VLAN segments)")
        print("\(mark(caps.bridgeConntrack))  bridge conntrack (ct in bridge tables)        CONFIG_NF_CONNTRACK_BRIDGE")
        print("\(mark(caps.vlanFiltering))  bridge VLAN filtering                         CONFIG_BRIDGE_VLAN_FILTERING")
        print("\(mark(caps.vlanDevices))  802.1Q VLAN devices                           CONFIG_VLAN_8021Q")
        print("\(mark(caps.vxlan))  VXLAN                                         CONFIG_VXLAN")
        print("")
        let vlan = !caps.vlanFiltering ? "NOT usable (no bridge VLAN filtering)"
            : !caps.bridgeNetfilterVLAN ? "NOT usable (bridge-nf-filter-vlan-tagged=0)" : "usable"
        print("segments: vlan \(vlan), vxlan \(caps.vxlan ? "usable" : "NOT usable")")
        print("datapath: \(caps.bridgeNetfilter ? "bridge marks + inet conntrack via br_netfilter" : "NOT usable: bridged traffic would bypass filtering")")
        for note in caps.notes { print("note: \(note)") }
        if !caps.bridgeNetfilter { throw ExitStatus.kernelError }
    }
}
