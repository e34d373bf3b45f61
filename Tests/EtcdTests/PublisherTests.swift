import Controller
@testable import Distribution
import Enforcer
import Etcd
import Foundation
import HostModel
import PolicyModel
import SyntheticCloud
import Testing

/// The publisher and the daemon's source against a real etcd: what a
/// daemon assembles from its keys is exactly its host's compiled state, a
/// change writes only what it changes, a publish spread over several
/// transactions reaches a daemon whole, and what others did to the keys
/// (another publisher, garbage) is noticed and put right.
@Suite(.enabled(if: EtcdAccess.available, EtcdAccess.reason))
struct PublisherTests {
    static func cloud(ports: Int = 90) throws -> Controller {
        try Controller(policy: SyntheticCloud.generate(CloudShape(hosts: 3, ports: ports, groups: 10, networks: 3, seed: 5)))
    }

    static func states(_ controller: Controller) -> [String: HostState] {
        Dictionary(uniqueKeysWithValues: controller.policy.hosts.map { ($0.name, controller.state(of: $0.name)) })
    }

    /// The desired states a source yields, in order, as they come.
    final class Received: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [SourceEvent] = []
        private var task: Task<Void, Never>?

        init(_ source: EtcdSource) {
            task = Task { [self] in
                for await event in source.events() { lock.withLock { events.append(event) } }
            }
        }

        var desired: [(HostState, Revision)] {
            lock.withLock { events.compactMap { if case .desired(let s, let r) = $0 { (s, r) } else { nil } } }
        }

        var all: [SourceEvent] { lock.withLock { events } }

        /// Waits until a state of `revision` has arrived, then returns all desired states so far.
        func waitForRevision(_ revision: Int64, seconds: Double = 10) async throws -> [(HostState, Revision)] {
            guard try await waitFor(seconds: seconds, { _ in self.desired.last?.1.number == revision }) else {
                throw CommandError(command: "source", output: "no state of revision \(revision) after \(seconds) s: \(desired.map(\.1))")
            }
            return desired
        }

        /// Waits until the events so far satisfy `condition`; false after `seconds`.
        func waitFor(seconds: Double = 10, _ condition: @escaping ([SourceEvent]) -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while !condition(all) {
                if ContinuousClock.now > deadline { return false }
                try await Task.sleep(for: .milliseconds(20))
            }
            return true
        }

        func stop() { task?.cancel() }
    }

    @Test func daemonsAssembleExactlyTheirStatesAndAChangeWritesOnlyWhatChanged() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let controller = try Self.cloud()
            let hosts = controller.policy.hosts.map(\.name)
            // The daemons watch before anything is published, so they see the
            // first publish's transactions one by one.
            let sources = hosts.map { EtcdSource(client: client, endpoints: [etcd.endpoint], host: $0) }
            let received = sources.map(Received.init)
            defer { received.forEach { $0.stop() } }
            try await Task.sleep(for: .milliseconds(300))

            let publisher = EtcdPublisher(client: client)
            let first = try await publisher.publish(states: Self.states(controller), label: "first")
            #expect(first.written == hosts, "\(first)")
            #expect(first.transactions > 3, "90 ports take several transactions: \(first)")
            var published: [String: [Int64]] = Dictionary(uniqueKeysWithValues: hosts.map { ($0, [1]) })
            for (host, seen) in zip(hosts, received) {
                let desired = try await seen.waitForRevision(1)
                #expect(desired.map(\.1.number) == [1], "host \(host): the split publish arrives once, whole")
                #expect(desired.last?.0 == controller.state(of: host), "host \(host) assembled its state")
            }

            // Random changes: each writes the changed hosts only, in one
            // transaction, and each daemon of a changed host gets its new state once.
            for step in 0..<12 {
                var policy = controller.policy
                var rng = SplitMix64(seed: UInt64(step) &+ 99)
                PolicyMutator.mutate(&policy, using: &rng)
                guard case .success(let valid) = PolicyDecoder.decode(PolicyEncoder.encode(policy)) else { continue }
                let result = controller.update(to: valid)
                if result.deltas.isEmpty { continue }
                let change = try await publisher.publish(
                    changed: Dictionary(uniqueKeysWithValues: result.hosts.map { ($0, controller.state(of: $0)) }), removed: [], label: "step \(step)")
                #expect(change.written == result.hosts, "step \(step)")
                // One transaction unless the change is larger than one may be.
                let operations = change.keys + change.written.count + 1
                #expect(change.transactions == (operations <= EtcdPublisher.operationsPerTransaction ? 1 : 2), "step \(step): \(change)")
                for host in result.hosts { published[host, default: []].append(change.revision) }
            }
            for (host, seen) in zip(hosts, received) {
                let desired = try await seen.waitForRevision(published[host]!.last!)
                #expect(desired.map(\.1.number) == published[host]!, "host \(host): one state per publish that changed it")
                #expect(desired.last?.0 == controller.state(of: host), "host \(host) follows the changes")
            }
            // What etcd holds reads back as the same states for a publisher starting afresh.
            let fresh = try await EtcdPublisher(client: client).publish(states: Self.states(controller), label: "again")
            #expect(fresh.transactions == 0 && fresh.written.isEmpty, "\(fresh)")
        }
    }

    @Test func anotherPublisherInBetweenIsAConflictThenARereadPutsItRight() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let controller = try Self.cloud(ports: 30)
            let hosts = controller.policy.hosts.map(\.name)
            let a = EtcdPublisher(client: client)
            let b = EtcdPublisher(client: client)
            _ = try await a.publish(states: Self.states(controller), label: "a")
            var other = Self.states(controller)
            other[hosts[0]] = HostState()
            _ = try await b.publish(states: other, label: "b")
            await #expect(throws: PublishError.self) { try await a.publish(states: Self.states(controller), label: "a again") }
            let retry = try await a.publish(states: Self.states(controller), label: "a retried")
            #expect(retry.written == [hosts[0]], "only the host b changed is written back: \(retry)")
            #expect(retry.revision == 3)

            let source = Received(EtcdSource(client: client, endpoints: [etcd.endpoint], host: hosts[0]))
            defer { source.stop() }
            #expect(try await source.waitForRevision(3).last?.0 == controller.state(of: hosts[0]))
        }
    }

    @Test func garbageInAHostsKeysIsRejectedByTheDaemonAndRewrittenByTheNextPublish() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let controller = try Self.cloud(ports: 30)
            let host = controller.policy.hosts[0].name
            _ = try await EtcdPublisher(client: client).publish(states: Self.states(controller), label: "good")
            let layout = EtcdLayout()
            let (kvs, _) = try await client.range(prefix: layout.hostPrefix(host) + "chains/")
            let victim = try #require(kvs.first).key
            // Garbage in a chain, and meta rewritten so the daemon looks again.
            let meta = try #require(try await client.get(layout.metaKey(host)).kv)
            _ = try await client.txn(if: [], then: [.put(key: victim, value: "{garbage".bytes), .put(key: meta.key, value: meta.value)])

            let source = Received(EtcdSource(client: client, endpoints: [etcd.endpoint], host: host))
            defer { source.stop() }
            let rejected = try await source.waitFor { events in
                events.contains { if case .rejected(_, let errors) = $0 { errors.contains { $0.hasPrefix(victim + ": ") } } else { false } }
            }
            #expect(rejected, "the daemon names the unreadable key: \(source.all)")
            #expect(source.desired.isEmpty, "nothing applied from a broken host")

            let repair = try await EtcdPublisher(client: client).publish(states: Self.states(controller), label: "repair")
            #expect(repair.written == [host], "\(repair)")
            #expect(try await source.waitForRevision(repair.revision).last?.0 == controller.state(of: host))
        }
    }

    /// A watch whose connection goes silent (here: a proxy in between,
    /// stopped with SIGSTOP, so nothing is reset) is noticed by the
    /// liveness read and given up; the change made meanwhile arrives
    /// through the other endpoint.
    @Test func aSilentlyStalledWatchIsNoticedAndTheChangeArrives() async throws {
        try await withEtcd { etcd in
            let proxy = Process()
            proxy.executableURL = URL(fileURLWithPath: "/usr/bin/ip")
            proxy.arguments = ["netns", "exec", etcd.namespace, "python3", "-c", Self.proxyScript]
            try proxy.run()
            defer {
                kill(proxy.processIdentifier, SIGKILL)  // stopped or not
                proxy.waitUntilExit()
            }
            let direct = try etcd.client()
            // Until the proxy listens, the source's client would settle on the other endpoint.
            let listening = try await Self.waitUntilListening(namespace: etcd.namespace, port: 23790)
            try #require(listening, "the proxy listens on 23790")
            let viaProxy = try etcd.client(endpoints: ["http://127.0.0.1:23790", etcd.endpoint], timeout: .seconds(1))
            let controller = try Self.cloud(ports: 12)
            let host = controller.policy.hosts[0].name
            let publisher = EtcdPublisher(client: direct)
            _ = try await publisher.publish(states: Self.states(controller), label: "before")

            let source = Received(EtcdSource(
                client: viaProxy, endpoints: ["http://127.0.0.1:23790", etcd.endpoint], host: host, livenessInterval: .milliseconds(500)))
            defer { source.stop() }
            _ = try await source.waitForRevision(1)
            // A change that arrives proves the watch is up (through the proxy:
            // the client keeps to the endpoint that answered last).
            var changed = Self.states(controller)
            changed[host]?.links.bridges = [:]
            let through = try await publisher.publish(states: changed, label: "through the proxy")
            _ = try await source.waitForRevision(through.revision)
            #expect(try Self.connections(namespace: etcd.namespace, port: 23790) > 0, "the source uses the proxy")

            kill(proxy.processIdentifier, SIGSTOP)
            changed[host] = HostState()
            let second = try await publisher.publish(states: changed, label: "while the watch is stalled")
            let desired = try await source.waitForRevision(second.revision, seconds: 20)
            #expect(desired.last?.0 == HostState())
            #expect(source.all.contains { if case .unavailable(let reason) = $0 { reason.contains("the watch is stalled") } else { false } },
                "the stall is reported: \(source.all.map(\.kind))")
        }
    }

    static func connections(namespace: String, port: Int) throws -> Int {
        try Command.run("ip", ["netns", "exec", namespace, "ss", "-Htn", "state", "established", "sport = :\(port)"])
            .stdout.split(separator: "\n").count
    }

    static func waitUntilListening(namespace: String, port: Int) async throws -> Bool {
        for _ in 0..<100 {
            let sockets = try Command.run("ip", ["netns", "exec", namespace, "ss", "-Htln", "sport = :\(port)"])
            if !sockets.stdout.isEmpty { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Forwards 127.0.0.1:23790 to etcd at 127.0.0.1:2379, a thread per direction.
    static let proxyScript = """
        import socket, threading
        def pipe(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data: break
                    b.sendall(data)
            except OSError: pass
            for s in (a, b):
                try: s.shutdown(socket.SHUT_RDWR)
                except OSError: pass
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 23790))
        server.listen(64)
        while True:
            client, _ = server.accept()
            upstream = socket.create_connection(("127.0.0.1", 2379))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()
        """
}

extension SourceEvent {
    /// The event without its state, for messages.
    var kind: String {
        switch self {
        case .desired(_, let revision): "desired \(revision)"
        case .rejected(let revision, let errors): "rejected \(revision): \(errors)"
        case .unavailable(let reason): "unavailable: \(reason)"
        }
    }
}
