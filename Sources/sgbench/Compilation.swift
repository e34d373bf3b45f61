import Dispatch
import HostModel
import PolicyCompiler
import Synchronization

/// The size of what the compiler produced, summed over hosts.
struct OutputSize: Sendable {
    var hosts = 0
    var failures = 0
    var chains = 0
    var rules = 0
    var sets = 0
    var elements = 0
    var firstError: String?

    mutating func add(_ state: HostState) {
        hosts += 1
        for table in state.tables.values {
            chains += table.chains.count
            sets += table.sets.count
            for chain in table.chains.values { rules += chain.rules.count }
            for set in table.sets.values { elements += set.elements.count }
        }
    }

    mutating func add(_ error: CompileError) {
        failures += 1
        if firstError == nil { firstError = error.message }
    }

    mutating func add(_ other: OutputSize) {
        hosts += other.hosts
        failures += other.failures
        chains += other.chains
        rules += other.rules
        sets += other.sets
        elements += other.elements
        if firstError == nil { firstError = other.firstError }
    }
}

extension PolicyCompiler {
    /// Compiles the given hosts one after another.
    func compileAll(_ hosts: some Sequence<String>) -> OutputSize {
        var size = OutputSize()
        for host in hosts {
            do throws(CompileError) {
                size.add(try compile(host: host))
            } catch {
                size.add(error)
            }
        }
        return size
    }

    /// Compiles all hosts on `workers` threads sharing this compiler's index;
    /// worker w takes every w-th host.
    func compileAllParallel(_ hosts: [String], workers: Int) -> OutputSize {
        let total = Mutex(OutputSize())
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let mine = compileAll(stride(from: worker, to: hosts.count, by: workers).lazy.map { hosts[$0] })
            total.withLock { $0.add(mine) }
        }
        return total.withLock { $0 }
    }

    /// The time each of `hosts` takes to compile on its own, sorted.
    func singleHostTimes(_ hosts: [String]) -> [Duration] {
        hosts.map { host in timed { compileAll([host]) }.1 }.sorted()
    }
}
