import Foundation

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e3 + Double(attoseconds) * 1e-15
    }
}

/// Runs `body` once and returns its result with the time it took.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try body()
    return (result, clock.now - start)
}

/// Runs `body` `runs` times; the median time and the last result.
func medianTimed<T>(runs: Int, _ body: () throws -> T) rethrows -> (T, Duration) {
    precondition(runs > 0)
    var times: [Duration] = []
    var last: T?
    for _ in 0..<runs {
        let (result, time) = try timed(body)
        times.append(time)
        last = result
    }
    return (last!, median(times))
}

func median(_ values: [Duration]) -> Duration {
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Nearest-rank percentile of sorted values, `p` in 0...100.
func percentile(_ sorted: [Duration], _ p: Double) -> Duration {
    precondition(!sorted.isEmpty)
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// Peak resident set size of this process, in KiB.
func peakMemoryKiB() -> Double {
    var usage = rusage()
    #if os(Linux)
    guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
    return Double(usage.ru_maxrss)  // KiB on Linux
    #else
    guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
    return Double(usage.ru_maxrss) / 1024  // bytes on Darwin
    #endif
}
