/// Told whenever what the enforcer holds in force changes (the revision,
/// whether the kernel is in sync, the last error), so that a control plane
/// can see each host converge. `sequence` grows with every report: reports
/// may arrive out of order, and an older one must not overwrite a newer one.
public protocol StatusReporter: Sendable {
    func report(_ status: EnforcerStatus, sequence: Int) async
}
