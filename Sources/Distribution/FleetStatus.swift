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
        let metaSuffix = "/" + ObjectKey.meta.path
        let metaKeys = try await client.keys(prefix: layout.hostsPrefix).keys.filter { key in
            key.hasSuffix(metaSuffix) && !key.dropFirst(layout.hostsPrefix.count).dropLast(metaSuffix.count).contains("/")
        }
        var published: [String: Int64] = [:]
        var start = metaKeys.startIndex
        while start < metaKeys.endIndex {
            let chunk = metaKeys[start..<min(start + batch, metaKeys.endIndex)]
            start = chunk.endIndex
            let answer = try await client.txn(if: [], then: chunk.map { .get($0) })
            for case .get(let kvs) in answer.responses {
                for kv in kvs {
                    let host = String(kv.key.dropFirst(layout.hostsPrefix.count).dropLast(metaSuffix.count))
                    do {
                        published[host] = try RecordCoding.decode(HostMeta.self, kv.value).revision
                    } catch {
                        throw FleetStatusError.unreadable(key: kv.key, error)
                    }
                }
            }
        }
        let revisionRecord = try await client.get(layout.revisionKey).kv
        let revision = try revisionRecord.map { kv in
            do { return try RecordCoding.decode(RevisionRecord.self, kv.value) } catch { throw FleetStatusError.unreadable(key: kv.key, error) }
        }
        let reports = try await client.range(prefix: layout.statusPrefix).kvs.map { kv in
            do { return try RecordCoding.decode(HostStatusRecord.self, kv.value) } catch { throw FleetStatusError.unreadable(key: kv.key, error) }
        }
        return FleetStatus(revision: revision?.revision ?? 0, label: revision?.label, published: published, reports: reports)
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
