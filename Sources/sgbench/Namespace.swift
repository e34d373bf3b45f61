import Foundation
import Netlink

/// A network namespace for the benchmark's lifetime, named
/// `sgbench-LABEL-PID`. Deleted when the value goes away, at exit and on
/// SIGINT/SIGTERM; `removeStale()` deletes those left by earlier runs that
/// died harder than that (their PID is no longer alive).
/// Equivalent to: `ip netns add NAME` ... `ip netns delete NAME`.
final class Namespace {
    static let prefix = "sgbench-"
    let name: String

    init(_ label: String) throws {
        name = "\(Self.prefix)\(label)-\(getpid())"
        try Command.run(["ip", "netns", "add", name])
        NamespaceRegistry.shared.insert(name)
        try checkChildrenRunInside()
    }

    /// Children spawned by `run` must land in this namespace, never in the
    /// host's: a benchmark that loads rulesets must not touch the machine's.
    private func checkChildrenRunInside() throws {
        let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let target = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        let child = try run(["readlink", "/proc/self/ns/net"]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard child != own, let target, child == "net:[\(target)]" else {
            throw BenchError("a child started for namespace \(name) runs in \(child), not in it (ours: \(own))")
        }
    }

    deinit {
        _ = try? Command.run(["ip", "netns", "delete", name])
        NamespaceRegistry.shared.remove(name)
    }

    var path: String { NetworkNamespace.path(named: name) }

    /// Runs a command inside the namespace and returns its standard output.
    /// The child is spawned from a thread that entered the namespace (as
    /// `nsenter --net` would), so no extra `ip netns exec` process and mount
    /// namespace are in the timing.
    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil) throws -> String {
        try NetworkNamespace.run(path: path) { try Command.run(arguments, stdin: stdin) }
    }

    /// Starts a long-running command inside the namespace (a server); its
    /// standard error goes to `log` when given.
    func start(_ arguments: [String], log: URL? = nil) throws -> Process {
        try NetworkNamespace.run(path: path) { try Command.start(arguments, log: log) }
    }

    func nft(stdin: String) throws { try run(["nft", "-f", "-"], stdin: stdin) }

    /// Deletes `sgbench-*` namespaces whose creating process is gone.
    static func removeStale() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns") else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = name.split(separator: "-").last.flatMap({ Int32($0) }), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                // Servers an earlier run started in it (iperf3, tcp-rr.py) go first.
                let pids = (try? Command.run(["ip", "netns", "pids", name])) ?? ""
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGTERM) }
                _ = try? Command.run(["ip", "netns", "delete", name])
                print("  removed stale namespace \(name)")
            }
        }
    }
}

/// Names of the live namespaces, so a signal or `exit` can still delete them.
final class NamespaceRegistry: @unchecked Sendable {
    static let shared = NamespaceRegistry()
    private let lock = NSLock()
    private var names = Set<String>()
    private var pids = Set<Int32>()

    func track(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    func untrack(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }

    func insert(_ name: String) { lock.withLock { _ = names.insert(name) } }
    func remove(_ name: String) { lock.withLock { _ = names.remove(name) } }

    /// Stops the servers it started and deletes the namespaces that are
    /// left. Safe to call more than once.
    func deleteAll() {
        for pid in lock.withLock({ pids }) { kill(pid, SIGTERM) }
        let left = lock.withLock { names }
        for name in left { _ = try? Command.run(["ip", "netns", "delete", name]) }
        lock.withLock { names.removeAll() }
    }

    /// Installs the cleanup on exit, SIGINT and SIGTERM (once). SIGPIPE is
    /// ignored: a child that exits before reading its input must fail its
    /// command (EPIPE), not kill the benchmark past its cleanup.
    func installCleanup() {
        signal(SIGPIPE, SIG_IGN)
        atexit { NamespaceRegistry.shared.deleteAll() }
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { number in
                NamespaceRegistry.shared.deleteAll()
                signal(number, SIG_DFL)
                raise(number)
            }
        }
    }
}

/// A child process: arguments through `/usr/bin/env`, standard input from a
/// string, standard output returned, standard error in the thrown error.
enum Command {
    @discardableResult
    static func run(_ arguments: [String], stdin: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        // Input through a file, not a pipe: a child that fails early and
        // stops reading then fails with its own message.
        let inputFile = "/tmp/sgbench-stdin-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try Data((stdin ?? "").utf8).write(to: URL(fileURLWithPath: inputFile))
        defer { try? FileManager.default.removeItem(atPath: inputFile) }
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputFile))
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes before waiting: a child that fills one would block.
        let err = ErrorOutput()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { err.data = errors.fileHandleForReading.readDataToEndOfFile() }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: err.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw BenchError("\(arguments.prefix(4).joined(separator: " ")) failed (exit \(process.terminationStatus)): \(message.prefix(600))")
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func start(_ arguments: [String], log: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }
}

/// Standard error, read on another thread; the group's wait orders the access.
private final class ErrorOutput: @unchecked Sendable {
    var data = Data()
}

/// The timed commands' way to start: posix_spawn of the resolved program,
/// no shell, no `env`, standard input and output on /dev/null, standard
/// error to a file read only on failure. Foundation's `Process` took ~50 ms
/// per start here, which would have been charged to the baselines.
enum Spawn {
    static func run(_ arguments: [String]) throws {
        let program = try resolve(arguments[0])
        let errorFile = "/tmp/sgbench-stderr-\(getpid())"
        defer { unlink(errorFile) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, program, &actions, nil, &argv, environ)
        guard status == 0 else { throw BenchError("posix_spawn \(program): errno \(status)") }
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the macros aren't imported).
        guard exit & 0x7f == 0, (exit >> 8) & 0xff == 0 else {
            let message = (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
            throw BenchError("\(arguments.prefix(4).joined(separator: " ")) failed (status \(exit)): \(message.prefix(600))")
        }
    }

    /// The program's path through PATH, once per name.
    private static func resolve(_ name: String) throws -> String {
        if name.hasPrefix("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        throw BenchError("\(name) not found in PATH")
    }
}

extension Namespace {
    /// Runs a command inside the namespace the fastest way (see `Spawn`);
    /// for the commands whose time is measured.
    func spawn(_ arguments: [String]) throws {
        try NetworkNamespace.run(path: path) { try Spawn.run(arguments) }
    }
}
