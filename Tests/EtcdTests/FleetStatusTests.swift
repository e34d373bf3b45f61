import Controller
@testable import Distribution
import Etcd
import Foundation
import HostModel
import SyntheticCloud
import Testing

/// `sgctl status --etcd`'s reading of etcd: the revision published for each
/// host beside the one its sgd reports.
struct FleetStatusTests {
    static func report(_ host: String, _ revision: Int64?, inSync: Bool = true, at: Double = 1_000) -> HostStatusRecord {
        HostStatusRecord(host: host, revision: revision, inSync: inSync, error: nil, pending: 0, reportedAt: at)
    }

    @Test func eachHostIsJudgedByTheRevisionThatLastChangedIt() {
        let fleet = FleetStatus(
            revision: 7, label: "policy.json",
            published: ["hv1": 7, "hv2": 3, "hv3": 7, "hv4": 7, "hv5": 5, "hv6": 2],
            reports: [
                Self.report("hv1", 7),
                Self.report("hv2", 3),  // nothing published for it since 3: converged
                Self.report("hv3", 5),  // the change of 7 has not arrived
                Self.report("hv4", 7, inSync: false),
                // hv5: never reported
                Self.report("hv6", nil),  // started, nothing applied yet
                Self.report("hv9", 4),  // taken out of the policy, its sgd still reports
                Self.report("hv1", 6, at: 900),  // an older duplicate loses to the newer report
            ])
        let states = Dictionary(uniqueKeysWithValues: fleet.hosts.map { ($0.host, $0.state) })
        #expect(states == ["hv1": .converged, "hv2": .converged, "hv3": .behind, "hv4": .notInSync,
                           "hv5": .noReport, "hv6": .behind, "hv9": .notPublished])
        #expect(fleet.hosts.map(\.host) == ["hv1", "hv2", "hv3", "hv4", "hv5", "hv6", "hv9"])
        #expect(!fleet.allConverged)
        #expect(FleetStatus.convergence(published: 3, report: Self.report("hv", 4)) == .ahead)

        let done = FleetStatus(revision: 7, label: nil, published: ["hv1": 7, "hv2": 3],
                               reports: [Self.report("hv1", 7), Self.report("hv2", 3), Self.report("old", 1)])
        #expect(done.allConverged)
    }

    /// Against a real etcd: a publish of three hosts, reports written as
    /// each host's sgd writes them.
    @Test(.enabled(if: EtcdAccess.available, EtcdAccess.reason))
    func readsPublishedRevisionsAndReportsFromEtcd() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            let layout = EtcdLayout()
            #expect(try await FleetStatus.read(from: client) == FleetStatus(revision: 0, label: nil, hosts: []))

            let controller = try PublisherTests.cloud(ports: 30)
            let publisher = EtcdPublisher(client: client, layout: layout)
            let hosts = controller.policy.hosts.map(\.name).sorted()
            #expect(hosts.count == 3)
            _ = try await publisher.publish(states: PublisherTests.states(controller), label: "first")
            // A second revision that changes only the first host.
            var states = PublisherTests.states(controller)
            states[hosts[0]] = HostState()
            let second = try await publisher.publish(states: states, label: "second")
            #expect(second.revision == 2 && second.written == [hosts[0]])

            try await client.put(layout.statusKey(hosts[0]), try RecordCoding.encode(Self.report(hosts[0], 1)))
            try await client.put(layout.statusKey(hosts[1]), try RecordCoding.encode(Self.report(hosts[1], 1)))
            // Batches of 2: the meta keys are read in two transactions.
            var fleet = try await FleetStatus.read(from: client, layout: layout, batch: 2)
            #expect(fleet.revision == 2 && fleet.label == "second")
            #expect(fleet.hosts.map(\.host) == hosts)
            #expect(fleet.hosts.map(\.published) == [2, 1, 1])
            #expect(fleet.hosts.map(\.state) == [.behind, .converged, .noReport])

            try await client.put(layout.statusKey(hosts[0]), try RecordCoding.encode(Self.report(hosts[0], 2)))
            try await client.put(layout.statusKey(hosts[2]), try RecordCoding.encode(Self.report(hosts[2], 1)))
            fleet = try await FleetStatus.read(from: client, layout: layout)
            #expect(fleet.hosts.map(\.state) == [.converged, .converged, .converged])
            #expect(fleet.allConverged)

            try await client.put(layout.statusKey(hosts[1]), Array("not json".utf8))
            await #expect(throws: FleetStatusError.self) { try await FleetStatus.read(from: client, layout: layout) }
        }
    }
}
