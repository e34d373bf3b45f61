import Foundation

/// The machine is shared: a QEMU guest the lead runs takes a core, which
/// would distort kernel figures. Checked through /proc, no tools needed.
enum Idle {
    static func qemuRunning() -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return false }
        for pid in entries where pid.allSatisfy(\.isNumber) {
            if let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), name.hasPrefix("qemu-system") {
                return true
            }
        }
        return false
    }

    /// Whether a qemu-system process was seen at any `note()` of this run.
    nonisolated(unsafe) static var seen = false

    /// Looks once; called between measurements, so the report can say
    /// whether the run shared the machine.
    static func note() {
        if !seen, qemuRunning() { seen = true }
        fflush(nil)  // progress reaches a log file as it happens
    }

    static var seenText: String { seen ? "yes: figures are noisy" : "no" }

    static func waitForNoQEMU() {
        guard qemuRunning() else { return }
        print("  waiting until no qemu-system process runs ...")
        while qemuRunning() { Thread.sleep(forTimeInterval: 10) }
    }

    static func warnIfQEMU() {
        if qemuRunning() { print("  warning: a qemu-system process is running; figures will be noisy (see --wait-for-idle)") }
    }
}
