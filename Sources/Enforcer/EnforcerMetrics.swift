import HostModel
import Metrics

/// The enforcer's metrics, through swift-metrics (the daemon exports them
/// to Prometheus; an embedding program can pick any backend).
struct EnforcerMetrics {
    let applyDuration = Timer(label: "sgd_apply_duration_seconds", preferredDisplayUnit: .seconds)
    let driftRepairs = Counter(label: "sgd_drift_repairs_total")
    let rejectedPolicies = Counter(label: "sgd_rejected_policies_total")
    let revision = Gauge(label: "sgd_policy_revision")
    let pendingPorts = Gauge(label: "sgd_pending_ports")
    let inSync = Gauge(label: "sgd_in_sync")

    func operations(_ delta: HostDelta) {
        for (kind, count) in delta.operationsByKind {
            Counter(label: "sgd_operations_total", dimensions: [("kind", kind)]).increment(by: count)
        }
    }

    func error(stage: String) {
        Counter(label: "sgd_errors_total", dimensions: [("stage", stage)]).increment()
    }
}
