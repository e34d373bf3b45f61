import Enforcer
import Etcd
import Foundation
import Logging

/// A host's report in etcd (`PREFIX/status/NAME`): which revision its
/// kernel holds, so a control plane sees each host converge (and the load
/// benchmark times publish-to-kernel).
public struct HostStatusRecord: Codable, Hashable, Sendable {
    public var host: String
    /// The policy revision in force; nil until one is applied.
    public var revision: Int64?
    public var inSync: Bool
    public var error: String?
    public var pending: Int
    /// When it was reported, seconds since 1970 (fractional).
    public var reportedAt: Double

    public init(host: String, revision: Int64?, inSync: Bool, error: String?, pending: Int, reportedAt: Double) {
        self.host = host
        self.revision = revision
        self.inSync = inSync
        self.error = error
        self.pending = pending
        self.reportedAt = reportedAt
    }
}

/// Writes the enforcer's reports to etcd, newest last: reports that arrive
/// out of order are dropped, and while one write is under way only the
/// newest waiting report is kept. Failures are logged and left (the next
/// change reports again); enforcement never waits for it.
public actor EtcdStatusReporter: StatusReporter {
    let client: EtcdClient
    let key: String
    let logger: Logger
    private var newest = 0
    private var waiting: (EnforcerStatus, Int)?
    private var writing = false

    public init(client: EtcdClient, layout: EtcdLayout = EtcdLayout(), host: String, logger: Logger) {
        self.client = client
        self.key = layout.statusKey(host)
        self.logger = logger
    }

    public func report(_ status: EnforcerStatus, sequence: Int) async {
        guard sequence > newest else { return }
        newest = sequence
        waiting = (status, sequence)
        guard !writing else { return }
        writing = true
        while let (status, _) = waiting {
            waiting = nil
            let record = HostStatusRecord(
                host: status.host, revision: status.revision?.number, inSync: status.inSync, error: status.lastError,
                pending: status.pending.count, reportedAt: Date().timeIntervalSince1970)
            do {
                _ = try await client.put(key, try RecordCoding.encode(record))
            } catch {
                logger.warning("could not report status to etcd: \(error)")
            }
        }
        writing = false
    }
}
