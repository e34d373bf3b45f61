import Foundation

/// Repeated observations of one figure, summarised the way the kernel
/// benchmarks report them: median, p99 (nearest rank) and max.
struct Samples: Codable, Sendable {
    private(set) var values: [Double] = []

    mutating func add(_ value: Double) { values.append(value) }
    mutating func add(_ duration: Duration) { values.append(duration.milliseconds) }

    var count: Int { values.count }
    var median: Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    func percentile(_ p: Double) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(s.count)).rounded(.up))
        return s[Swift.min(Swift.max(rank, 1), s.count) - 1]
    }
    var p99: Double { percentile(99) }
    var max: Double { values.max() ?? .nan }
}

/// What a kernel benchmark writes as JSON beside its table: the machine,
/// the run's parameters and one object per row.
struct KernelReport<Row: Codable>: Codable {
    var benchmark: String
    var date = ISO8601DateFormatter().string(from: Date())
    var kernel = KernelReport.kernelRelease()
    var processors = ProcessInfo.processInfo.activeProcessorCount
    var parameters: [String: String]
    var rows: [Row]
    var targets: [TargetCheck]

    static func kernelRelease() -> String {
        (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
    }

    func write(to path: String) throws { try writeJSON(self, to: path) }
}

/// A target the issue states, and whether this run met it.
struct TargetCheck: Codable {
    var target: String
    var measured: String
    var met: Bool

    var row: [String] { [target, measured, met ? "PASS" : "MISS"] }
}

enum Figure {
    /// Milliseconds with three significant-ish digits: 0.123, 12.3, 1234.
    static func ms(_ value: Double) -> String {
        if value.isNaN { return "-" }
        if value >= 100 { return String(format: "%.0f", value) }
        if value >= 10 { return String(format: "%.1f", value) }
        if value >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3f", value)
    }

    static func ratio(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return "-" }
        return value >= 10 ? String(format: "%.0f×", value) : String(format: "%.2f×", value)
    }
}
