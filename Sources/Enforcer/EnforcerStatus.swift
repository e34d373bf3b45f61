import Foundation

/// What the enforcer is doing, for `/status`, `/healthz` and `sgctl status`.
public struct EnforcerStatus: Hashable, Sendable, Codable {
    public struct Apply: Hashable, Sendable, Codable {
        public var at: Date
        /// What started it: "policy", "devices tap1, tap2", "drift check", "retry".
        public var reason: String
        public var summary: String
        public var operations: Int
        public var milliseconds: Double
    }

    public var host: String
    public var source: String
    public var startedAt: Date
    /// The revision whose state the kernel holds (set once it is applied),
    /// nil until the first one is.
    public var revision: Revision?
    /// Set while the source can't be read; the last state stays enforced.
    public var sourceProblem: String?
    /// The newest revision the source offered that was refused, and why.
    public var rejectedRevision: Revision?
    public var rejectedErrors: [String]
    /// The kernel matched the revision in force at the last check.
    public var inSync: Bool
    public var lastCheck: Date?
    public var lastApply: Apply?
    public var lastError: String?
    public var pending: [String]
    public var ports: Int
    public var applies: Int
    public var driftRepairs: Int
    public var errors: Int

    public init(host: String, source: String, startedAt: Date = Date()) {
        self.host = host
        self.source = source
        self.startedAt = startedAt
        rejectedErrors = []
        inSync = false
        pending = []
        ports = 0
        applies = 0
        driftRepairs = 0
        errors = 0
    }

    /// Healthy: a state is enforced and the last attempt to enforce it
    /// worked. A source that is down or a rejected policy don't make the
    /// host unhealthy (the last state is still enforced), but show in status.
    public var healthProblem: String? {
        if let lastError { return "last apply failed: \(lastError)" }
        if revision == nil { return "no policy applied yet from \(source)" + (sourceProblem.map { ": \($0)" } ?? "") }
        return nil
    }
}
