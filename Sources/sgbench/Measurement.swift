import Foundation
import SyntheticCloud

/// One row of the benchmark: a figure, its unit, and the target it must stay
/// under, if it has one.
struct Measurement: Codable, Sendable {
    enum Unit: String, Codable, Sendable {
        case milliseconds = "ms"
        case bytes
        case kibibytes = "KiB"
        case count
    }

    var name: String
    var value: Double
    var unit: Unit
    /// Upper bound, in `unit`; nil for figures that are only reported.
    var target: Double?
    var note: String?

    init(_ name: String, _ value: Double, _ unit: Unit, target: Double? = nil, note: String? = nil) {
        self.name = name
        self.value = value
        self.unit = unit
        self.target = target
        self.note = note
    }

    static func time(_ name: String, _ duration: Duration, target: Duration? = nil, note: String? = nil) -> Measurement {
        Measurement(name, duration.milliseconds, .milliseconds, target: target?.milliseconds, note: note)
    }

    var passed: Bool? { target.map { value < $0 } }

    enum CodingKeys: String, CodingKey { case name, value, unit, target, passed, note }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(value, forKey: .value)
        try c.encode(unit, forKey: .unit)
        try c.encodeIfPresent(target, forKey: .target)
        try c.encodeIfPresent(passed, forKey: .passed)
        try c.encodeIfPresent(note, forKey: .note)
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        value = try c.decode(Double.self, forKey: .value)
        unit = try c.decode(Unit.self, forKey: .unit)
        target = try c.decodeIfPresent(Double.self, forKey: .target)
        note = try c.decodeIfPresent(String.self, forKey: .note)
    }
}

/// What `--json` writes.
struct BenchReport: Codable, Sendable {
    var shape: CloudShape
    var date: String
    var processors: Int
    var workers: Int
    var runs: Int
    var measurements: [Measurement]
    var allTargetsMet: Bool

    init(shape: CloudShape, workers: Int, runs: Int, measurements: [Measurement]) {
        self.shape = shape
        self.date = ISO8601DateFormatter().string(from: Date())
        self.processors = ProcessInfo.processInfo.activeProcessorCount
        self.workers = workers
        self.runs = runs
        self.measurements = measurements
        self.allTargetsMet = measurements.allSatisfy { $0.passed ?? true }
    }

    func write(to path: String) throws { try writeJSON(self, to: path) }
}

/// Writes a report as pretty, key-sorted JSON, creating its folder.
func writeJSON(_ value: some Encodable, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: url)
}
