import Dataplane
import Foundation
import HostModel
import Logging
import Netlink
import PolicyCompiler

/// Keeps one host's kernel in the desired state its source gives: applies
/// each new revision, attaches a VM's device when it appears, and repairs
/// what was changed behind its back (checked on link events and every
/// `driftInterval`). It never flushes: every change is the diff between
/// what the kernel has and what it should have, so a restart re-applies
/// nothing and established connections survive it. A rejected policy or a
/// source that went away leaves the last good state enforced.
public actor Enforcer {
    public struct Configuration: Sendable {
        /// How often the kernel is read and compared (nil: never, for tests).
        public var driftInterval: Duration?
        /// How long to wait after a link event for the rest of its burst.
        public var linkSettle: Duration
        /// Longest wait before retrying a failed apply (it doubles from 1 s).
        public var maxRetryDelay: Duration
        /// Between drift checks, plan against the tables last read or
        /// written while nftables' generation says nothing committed since.
        public var trustRulesetGeneration: Bool

        public init(
            driftInterval: Duration? = .seconds(30), linkSettle: Duration = .milliseconds(20), maxRetryDelay: Duration = .seconds(30),
            trustRulesetGeneration: Bool = true
        ) {
            self.driftInterval = driftInterval
            self.linkSettle = linkSettle
            self.maxRetryDelay = maxRetryDelay
            self.trustRulesetGeneration = trustRulesetGeneration
        }
    }

    /// Why the kernel is being looked at.
    enum Trigger: Hashable {
        case policy(Revision)
        case devices(Set<String>)
        case lostLinkEvents
        case drift
        case retry

        var isPolicy: Bool { if case .policy = self { true } else { false } }
    }

    private let worker: KernelWorker
    private let reporter: (any StatusReporter)?
    private var reported: (revision: Revision?, inSync: Bool, error: String?)?
    private var reports = 0
    private let configuration: Configuration
    private let logger: Logger
    private let metrics = EnforcerMetrics()
    private var status: EnforcerStatus
    private var desired: HostState?
    /// The revision `desired` comes from; in force once applied.
    private var desiredRevision: Revision?
    /// Devices whose events matter: the desired ports, uplinks, underlays.
    private var watchedDevices: Set<String> = []
    /// The port devices that didn't exist at the last check.
    private var missingDevices: Set<String> = []

    private var running = false
    private var queued: [Trigger] = []
    private var devicesSettling: Set<String>?
    private var retryTask: Task<Void, Never>?
    private var retryDelay: Duration
    /// The pending items already logged.
    private var loggedPending: Set<String> = []

    public init(
        host: String, source: String, dataplane: sending Dataplane, configuration: Configuration = Configuration(),
        reporter: (any StatusReporter)? = nil, logger: Logger
    ) {
        self.worker = KernelWorker(dataplane)
        self.reporter = reporter
        self.configuration = configuration
        self.retryDelay = Self.firstRetryDelay(configuration)
        self.logger = logger
        self.status = EnforcerStatus(host: host, source: source)
    }

    public var currentStatus: EnforcerStatus { status }

    /// The counters of the enforced rules, read now (for /metrics).
    public func counters() async throws -> [NFTRuleCounter] {
        try await worker.run { try $0.counters() }
    }

    /// A scrape couldn't read the counters: counted as an error of stage
    /// `counters` and logged.
    public func noteCounterReadFailure(_ error: any Error) {
        metrics.error(stage: "counters")
        logger.warning("could not read the rules' counters: \(error)")
    }

    /// This machine's short host name: the host a policy is compiled and
    /// enforced for unless told otherwise (sgd and sgctl's --host default).
    public static var localHostName: String {
        String(ProcessInfo.processInfo.hostName.split(separator: ".").first ?? "")
    }

    /// Enforces what `source` says until the calling task is cancelled,
    /// watching `linkEvents` (this host's) and checking for drift.
    public func run(source: some DesiredStateSource, linkEvents: AsyncStream<LinkEvent>?) async {
        logger.info("enforcing host \(status.host) from \(source)")
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in source.events() { await self.accept(event) }
            }
            if let linkEvents {
                group.addTask {
                    for await event in linkEvents { await self.linkChanged(event) }
                }
            }
            if let interval = configuration.driftInterval {
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        if !Task.isCancelled { await self.checkForDrift() }
                    }
                }
            }
            await group.waitForAll()
        }
        retryTask?.cancel()
        logger.info("stopped; the kernel keeps the last state")
    }

    /// Takes one event from the source.
    public func accept(_ event: SourceEvent) async {
        switch event {
        case .desired(let state, let revision):
            status.sourceProblem = nil
            status.rejectedRevision = nil
            status.rejectedErrors = []
            desiredRevision = revision
            if state == desired {
                // Another host's change, or the file rewritten: nothing to do
                // here (drift is the periodic check's business).
                if status.inSync { markInForce(revision) }
                return
            }
            desired = state
            watchedDevices = Set(state.links.ports.keys).union(state.links.trunks.keys)
                .union(state.links.vxlans.values.compactMap(\.underlay))
            status.ports = state.links.ports.count
            await reconcile(.policy(revision))
        case .rejected(let revision, let errors):
            status.sourceProblem = nil
            guard revision != status.rejectedRevision else { return }
            status.rejectedRevision = revision
            status.rejectedErrors = errors
            metrics.rejectedPolicies.increment()
            let kept = status.revision.map { "revision \($0) stays enforced" } ?? "nothing is enforced yet"
            logger.error("rejected policy \(revision) (\(kept)): \(errors.count) problem(s)")
            for error in errors.prefix(50) { logger.error("  \(error)") }
        case .unavailable(let reason):
            guard reason != status.sourceProblem else { return }
            status.sourceProblem = reason
            metrics.error(stage: "source")
            let kept = status.revision.map { "revision \($0) stays enforced" } ?? "nothing is enforced yet"
            logger.warning("source unavailable (\(kept)): \(reason)")
        }
    }

    /// A link event: a VM's device came or went, or one of the project's
    /// own devices was changed. A burst (a VM with several NICs, a bridge
    /// deleted with its ports) is handled as one.
    public func linkChanged(_ event: LinkEvent) async {
        let device: String
        switch event {
        case .changed(let name): device = name
        case .removed(let name):
            device = name
            if let desired, desired.links.ports[name] != nil { await forgetConnections(of: name, in: desired) }
        case .lost:
            await reconcile(.lostLinkEvents)
            return
        }
        guard desired != nil, watchedDevices.contains(device) || Self.isOwned(device) else { return }
        if devicesSettling != nil {
            devicesSettling?.insert(device)
            return
        }
        devicesSettling = [device]
        try? await Task.sleep(for: configuration.linkSettle)
        let devices = devicesSettling ?? []
        devicesSettling = nil
        await reconcile(.devices(devices))
    }

    /// The kernel holds `revision`'s state: status and metrics say so.
    private func markInForce(_ revision: Revision) {
        status.revision = revision
        metrics.revision.record(revision.number)
        reportIfChanged()
    }

    /// Hands the status to the reporter when the revision in force, the
    /// sync state or the error changed; without waiting for it.
    private func reportIfChanged() {
        guard let reporter else { return }
        if let reported, reported.revision == status.revision, reported.inSync == status.inSync, reported.error == status.lastError {
            return
        }
        reported = (status.revision, status.inSync, status.lastError)
        reports += 1
        let (snapshot, sequence) = (status, reports)
        Task { await reporter.report(snapshot, sequence: sequence) }
    }

    /// Compares the kernel with the desired state and repairs any difference.
    public func checkForDrift() async { await reconcile(.drift) }

    static func isOwned(_ device: String) -> Bool {
        device.hasPrefix(Naming.bridgePrefix) || device.hasPrefix(Naming.vxlanPrefix)
    }

    /// A VM's device is gone: its connections go too (the VM was destroyed
    /// or moved; a device that comes back starts afresh). Its filtering
    /// stays while the policy declares the port.
    private func forgetConnections(of device: String, in desired: HostState) async {
        do {
            let (addresses, deleted) = try await worker.run { try $0.forgetConnections(ofDevice: device, in: desired) }
            logger.info("\(device) is gone: \(deleted) tracked connections of \(addresses.map(\.description).joined(separator: ", ")) forgotten")
        } catch {
            metrics.error(stage: "conntrack")
            logger.error("\(device) is gone, but its tracked connections could not be deleted: \(error)")
        }
    }

    /// Runs a reconcile for `trigger`, or queues it behind the one running
    /// (the actor is re-entered while the kernel works; two applies must
    /// never overlap). Queued triggers are handled together.
    func reconcile(_ trigger: Trigger) async {
        queued.append(trigger)
        guard !running else { return }
        running = true
        while !queued.isEmpty {
            let triggers = queued
            queued = []
            await reconcileOnce(Set(triggers))
        }
        running = false
    }

    private func reconcileOnce(_ triggers: Set<Trigger>) async {
        guard let desired else { return }
        let start = ContinuousClock.now
        do {
            // Between drift checks the dataplane may take its tables as
            // last read or written when nftables' generation says nothing
            // committed since; the drift check itself reads everything.
            let freshRead = triggers.contains(.drift) || !configuration.trustRulesetGeneration
            let plan = try await worker.run { try $0.plan(desired, freshRead: freshRead) }
            status.lastCheck = Date()
            status.pending = plan.pending
            let missingBefore = missingDevices
            missingDevices = Set(plan.pendingPorts)
            metrics.pendingPorts.record(plan.pendingPorts.count)
            if !plan.isEmpty {
                _ = try await worker.run { try $0.apply(plan) }
                record(plan, triggers: triggers, missingBefore: missingBefore, elapsed: ContinuousClock.now - start)
            }
            status.inSync = true
            status.lastError = nil
            if let desiredRevision { markInForce(desiredRevision) }
            metrics.inSync.record(1)
            retryTask?.cancel()
            retryTask = nil
            retryDelay = Self.firstRetryDelay(configuration)
        } catch {
            status.inSync = false
            status.lastError = "\(error)"
            status.errors += 1
            metrics.inSync.record(0)
            metrics.error(stage: "apply")
            reportIfChanged()
            logger.error("apply failed (\(Self.describe(triggers))): \(error); retrying in \(retryDelay)")
            scheduleRetry()
        }
    }

    /// A difference found without a new policy, other than attaching
    /// devices that were missing at the last check (a VM booted), was made
    /// behind the enforcer's back.
    private func isRepair(_ delta: HostDelta, triggers: Set<Trigger>, missingBefore: Set<String>) -> Bool {
        if triggers.contains(where: \.isPolicy) { return false }
        if !delta.nft.isEmpty { return true }
        return delta.links.contains { op in
            if case .attachPort(let device, _) = op { return !missingBefore.contains(device) }
            return true
        }
    }

    private func record(_ plan: Plan, triggers: Set<Trigger>, missingBefore: Set<String>, elapsed: Duration) {
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        let summary = DeltaRenderer.summary(plan.delta)
        let reason = Self.describe(triggers)
        status.applies += 1
        status.lastApply = EnforcerStatus.Apply(
            at: Date(), reason: reason, summary: summary, operations: plan.delta.operationCount, milliseconds: milliseconds)
        metrics.applyDuration.recordNanoseconds(Int64(milliseconds * 1e6))
        metrics.operations(plan.delta)
        let line = "\(summary) (\(plan.delta.operationCount) operations, \(String(format: "%.1f", milliseconds)) ms)"
        if isRepair(plan.delta, triggers: triggers, missingBefore: missingBefore) {
            status.driftRepairs += 1
            metrics.driftRepairs.increment()
            logger.warning("repaired drift (\(reason)): \(line)")
            for detail in DeltaRenderer.lines(plan.delta).prefix(50) { logger.warning("  \(detail)") }
        } else {
            logger.info("applied (\(reason)): \(line)")
            // What a device change did is short and worth seeing; a policy's
            // delta can be long.
            let detailLevel: Logger.Level = triggers.contains(where: \.isPolicy) ? .debug : .info
            for detail in DeltaRenderer.lines(plan.delta).prefix(20) { logger.log(level: detailLevel, "  \(detail)") }
        }
        // Pending items are said when they first appear, not with every
        // apply: a host with many VMs not yet booted would repeat them all.
        for item in plan.pending where !loggedPending.contains(item) { logger.info("pending: \(item)") }
        loggedPending = Set(plan.pending)
    }

    private static func firstRetryDelay(_ configuration: Configuration) -> Duration {
        min(.seconds(1), configuration.maxRetryDelay)
    }

    private func scheduleRetry() {
        guard retryTask == nil else { return }
        let delay = retryDelay
        retryDelay = min(retryDelay * 2, configuration.maxRetryDelay)
        retryTask = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self.retryNow()
        }
    }

    private func retryNow() async {
        retryTask = nil
        await reconcile(.retry)
    }

    static func describe(_ triggers: Set<Trigger>) -> String {
        var parts: [String] = []
        for trigger in triggers {
            switch trigger {
            case .policy(let revision): parts.append("policy \(revision)")
            case .devices(let devices): parts.append("device\(devices.count == 1 ? "" : "s") \(devices.sorted().joined(separator: ", "))")
            case .lostLinkEvents: parts.append("link events lost")
            case .drift: parts.append("drift check")
            case .retry: parts.append("retry")
            }
        }
        return parts.sorted().joined(separator: ", ")
    }
}
