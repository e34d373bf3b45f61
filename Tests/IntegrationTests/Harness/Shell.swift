import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a finished command did.
struct CommandOutput: Sendable, CustomStringConvertible {
    var commandLine: String
    var status: Int32
    var stdout: String
    var stderr: String
    /// False when the harness killed it because its time ran out: it gave
    /// no answer, which is neither a pass nor a block.
    var finished = true

    var succeeded: Bool { status == 0 && finished }
    var description: String {
        let ending = finished ? "exited \(status)" : "never finished: killed by the harness when its time ran out (a starved machine?)"
        return "`\(commandLine)` \(ending)\n--- stdout:\n\(stdout)--- stderr:\n\(stderr)"
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs commands without blocking Swift's cooperative threads (the tests
/// run concurrently and mostly wait: on pings that must time out, on
/// servers), with output in files so a chatty child never blocks on a pipe.
enum Shell {
    /// Tools are looked up here only, so `python3` is Debian's (with scapy),
    /// not a user's pyenv shim.
    /// Swift's crash backtracer is off: a crashing sgd should die at once
    /// with its message, not stall a scenario while it symbolicates.
    static let environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "SWIFT_BACKTRACE": "enable=no"]

    /// Runs `argv` to completion (killed after `timeout`); never throws for a
    /// non-zero exit: callers decide what a status means.
    static func run(_ argv: [String], stdin: String? = nil, timeout: Duration = .seconds(30)) async throws -> CommandOutput {
        let child = try Child(argv, stdin: stdin)
        // SIGKILL, not SIGTERM: children of the test process inherit a
        // signal mask that may block SIGTERM, and a hung command must end.
        // A Dispatch timer, not a Task: on two cores the cooperative pool is
        // sometimes held for many seconds (tests that block in synchronous
        // calls share it), and a sleeping Task then wakes far too late: a
        // 200 ms limit once had not fired when `sleep 30` ended.
        let killer = DispatchWorkItem { child.kill() }
        let limit = timeout * Slowness.factor
        let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds)), execute: killer)
        let status = await child.exitStatus()
        killer.cancel()
        return CommandOutput(commandLine: child.commandLine, status: status, stdout: child.stdout, stderr: child.stderr,
                             finished: !child.wasKilled)
    }

    /// Runs `argv` and throws, with its output, unless it exits 0.
    @discardableResult
    static func must(_ argv: [String], stdin: String? = nil, timeout: Duration = .seconds(30)) async throws -> CommandOutput {
        let output = try await run(argv, stdin: stdin, timeout: timeout)
        guard output.succeeded else { throw HarnessError("harness command failed: \(output)") }
        return output
    }
}

/// A started process whose output goes to two temporary files.
final class Child: @unchecked Sendable {
    let commandLine: String
    private let process = Process()
    private let outURL: URL
    private let errURL: URL
    private let lock = NSLock()
    private var exited = false
    private var killed = false
    private var waiters: [CheckedContinuation<Int32, Never>] = []
    private var input: FileHandle?

    /// With `keepInputOpen`, stdin stays open after `stdin` is written,
    /// until `closeInput()` (for interactive tools such as `nft -i`).
    init(_ argv: [String], stdin: String? = nil, keepInputOpen: Bool = false) throws {
        commandLine = argv.joined(separator: " ")
        let dir = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        outURL = dir.appendingPathComponent("sgi-out-\(id)")
        errURL = dir.appendingPathComponent("sgi-err-\(id)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let input = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.environment = Shell.environment
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        process.terminationHandler = { [weak self] _ in
            try? out.close()
            try? err.close()
            self?.finished()
        }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        if keepInputOpen { self.input = input.fileHandleForWriting } else { try input.fileHandleForWriting.close() }
    }

    func closeInput() {
        try? lock.withLock { () -> FileHandle? in
            defer { input = nil }
            return input
        }?.close()
    }

    deinit {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }

    var pid: Int32 { process.processIdentifier }
    /// What the process printed so far (read leniently: it may stop mid-character).
    var stdout: String { String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self) }
    var stderr: String { String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self) }
    var isRunning: Bool { lock.withLock { !exited } }

    private func finished() {
        let waiting = lock.withLock {
            exited = true
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in waiting { waiter.resume(returning: process.terminationStatus) }
    }

    func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done = lock.withLock {
                if exited { return true }
                waiters.append(continuation)
                return false
            }
            if done { continuation.resume(returning: process.terminationStatus) }
        }
    }

    func terminate() {
        if isRunning { Glibc.kill(process.processIdentifier, SIGTERM) }
    }

    func kill() {
        guard isRunning else { return }
        lock.withLock { killed = true }
        Glibc.kill(process.processIdentifier, SIGKILL)
    }

    /// Whether `kill()` ended it (not something else).
    var wasKilled: Bool { lock.withLock { killed && exited } }

    /// Stops the process and waits for it (SIGKILL if SIGTERM isn't enough).
    func stop() async {
        guard isRunning else { return }
        terminate()
        let killer = Task {
            try? await Task.sleep(for: .seconds(2))
            if !Task.isCancelled { self.kill() }
        }
        _ = await exitStatus()
        killer.cancel()
    }

    /// Waits until a line of stdout contains `text`, or `timeout` (times
    /// `Slowness.factor`) passes.
    func waitFor(_ text: String, timeout: Duration) async -> Bool {
        await wait(until: { $0.stdout.contains(text) }, timeout: timeout)
    }

    /// The same for stderr (where daemons log).
    func waitForStderr(_ text: String, timeout: Duration) async -> Bool {
        await wait(until: { $0.stderr.contains(text) }, timeout: timeout)
    }

    private func wait(until condition: (Child) -> Bool, timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout * Slowness.factor)
        while clock.now < deadline {
            if condition(self) { return true }
            if !isRunning { return condition(self) }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(self)
    }
}

/// Limits how many scenarios run at once: they mostly wait, but two cores
/// loaded with dozens of namespaces would make the 1 s timeouts of the
/// positive checks flaky. SGI_PARALLEL overrides the default of 6.
actor Throttle {
    static let shared = Throttle(limit: Int(ProcessInfo.processInfo.environment["SGI_PARALLEL"] ?? "") ?? 6)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = max(1, limit) }

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

/// How much slower than this machine the suite runs: in the stock-kernel VM
/// (`integration/vm/run-in-vm`, emulated CPUs) every process start and packet
/// takes several times longer. `SGI_SLOW=N` stretches every timeout, wait
/// and time limit of the suite N times; 1 (the default) on real hardware.
/// `SGI_TIME_LIMIT=M` sets every test's time limit to M minutes instead: a
/// test's limit also runs while it waits for a `Throttle` slot, which with
/// few slots (the VM) can be most of the run.
enum Slowness {
    static let factor: Int = max(1, Int(ProcessInfo.processInfo.environment["SGI_SLOW"] ?? "") ?? 1)
    static let timeLimit: Int? = Int(ProcessInfo.processInfo.environment["SGI_TIME_LIMIT"] ?? "")

    /// How long a started Python endpoint (a server, a sniffer, a held
    /// session's first echoes) may take to come up, before the factor. Only
    /// a failure waits this long; but the example suite keeps dozens of
    /// probes starting at once, and in the emulated VM a server of another
    /// scenario once needed more than the 30 s that 10 s × 3 gave it.
    static let processStart: Duration = .seconds(40)

    /// A suite's time limit, in whole minutes as Swift Testing wants them.
    static func minutes(_ minutes: Int) -> TimeLimitTrait.Duration { .minutes(timeLimit ?? minutes * factor) }
}
