import Etcd
import Foundation

/// Every host's convergence, as etcd shows it: the revision that last
/// changed each host's state (its `meta` key) beside the revision its sgd
/// reports in force (`status/NAME`). What `sgctl status --etcd` prints.
public struct FleetStatus: Sendable, Hashable, Codable {
    /// The policy revision published last (0 when nothing was published).
    public var revision: Int64
    public var label: String?
    public var hosts: [Host]

    public struct Host: Sendable, Hashable, Codable {
        public var host: String
        /// The revision that last changed this host's state; nil when the
        /// host has a report but no published state (taken out of the policy).
        public var published: Int64?
        /// Its sgd's last report; nil when it never reported.
        public var report: HostStatusRecord?
        public var state: Convergence
    }

    /// How far a host is from what was published for it. A host's sgd
    /// reports only when something changes for it, so the age of a report
    /// says nothing by itself: a host nothing was published for in an hour
    /// has an hour-old report.
    public enum Convergence: String, Sendable, Hashable, Codable, CaseIterable {
        /// Its kernel holds the revision published for it.
        case converged
        /// It reports an older revision (or none yet): the change has not arrived or was rejected.
        case behind
        /// It holds the revision, but its kernel differs from it (a failed apply).
        case notInSync = "not-in-sync"
        /// Published, never reported: no sgd runs there, or it can't reach etcd.
        case noReport = "no-report"
        /// It reports a revision newer than its published one: the keys were
        /// rewritten under it (a restore of etcd?); its sgd resyncs on its own.
        case ahead
        /// It reports, but nothing is published for it any more.
        case notPublished = "not-published"
    }

    public init(revision: Int64, label: String?, hosts: [Host]) {
        self.revision = revision
        self.label = label
        self.hosts = hosts
    }

    /// Pairs each published host with its report (hosts sorted by name).
    public init(revision: Int64, label: String?, published: [String: Int64], reports: [HostStatusRecord]) {
        let reportsByHost = Dictionary(reports.map { ($0.host, $0) }, uniquingKeysWith: { a, b in a.reportedAt >= b.reportedAt ? a : b })
        let names = Set(published.keys).union(reportsByHost.keys).sorted()
        self.init(revision: revision, label: label, hosts: names.map { name in
            let report = reportsByHost[name]
            return Host(host: name, published: published[name], report: report,
                        state: Self.convergence(published: published[name], report: report))
        })
    }

    static func convergence(published: Int64?, report: HostStatusRecord?) -> Convergence {
        guard let published else { return .notPublished }
        guard let report else { return .noReport }
        guard let held = report.revision, held >= published else { return .behind }
        if held > published { return .ahead }
        return report.inSync ? .converged : .notInSync
    }

    /// Every published host holds its revision.
    public var allConverged: Bool { hosts.allSatisfy { $0.state == .converged || $0.state == .notPublished } }
}

extension FleetStatus {
    /// Reads the revision key, every host's `meta` key and every report.
    /// The host list comes from a keys-only listing, so a large cloud's
    /// compiled state is never transferred; the values are then read in
    /// transactions of at most `batch` keys (etcd's --max-txn-ops is 128 by default).
    public static func read(from client: EtcdClient, layout: EtcdLayout = EtcdLayout(), batch: Int = 100) async throws -> FleetStatus {
        // A host is a name whose meta key is listed (`hosts/NAME/meta`).
        let hosts = try await client.keys(prefix: layout.hostsPrefix).keys.compactMap { key in
            let name = key.dropFirst(layout.hostsPrefix.count).prefix { $0 != "/" }
            return key == layout.metaKey(String(name)) ? String(name) : nil
        }
        var published: [String: Int64] = [:]
        for start in stride(from: 0, to: hosts.count, by: batch) {
            let chunk = hosts[start..<min(start + batch, hosts.count)]
            let answer = try await client.txn(if: [], then: chunk.map { .get(layout.metaKey($0)) })
            for (host, response) in zip(chunk, answer.responses) {
                guard case .get(let kvs) = response, let kv = kvs.first else { continue }  // deleted since the listing
                published[host] = try decode(HostMeta.self, kv).revision
            }
        }
        let revision = try await client.get(layout.revisionKey).kv.map { try decode(RevisionRecord.self, $0) }
        let reports = try await client.range(prefix: layout.statusPrefix).kvs.map { try decode(HostStatusRecord.self, $0) }
        return FleetStatus(revision: revision?.revision ?? 0, label: revision?.label, published: published, reports: reports)
    }

    private static func decode<Record: Decodable>(_ type: Record.Type, _ kv: EtcdKeyValue) throws -> Record {
        do { return try RecordCoding.decode(type, kv.value) } catch { throw FleetStatusError.unreadable(key: kv.key, error) }
    }
}

public enum FleetStatusError: Error, CustomStringConvertible {
    case unreadable(key: String, any Error)

    public var description: String {
        switch self {
        case .unreadable(let key, let error): "etcd key \(key) is not readable: \(error)"
        }
    }
}
