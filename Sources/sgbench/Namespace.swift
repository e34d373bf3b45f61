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

    /// Starts a long-running command inside the namespace (a server).
    func start(_ arguments: [String]) throws -> Process {
        try NetworkNamespace.run(path: path) { try Command.start(arguments) }
    }

    func nft(stdin: String) throws { try run(["nft", "-f", "-"], stdin: stdin) }

    /// Deletes `sgbench-*` namespaces whose creating process is gone.
    static func removeStale() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/var/run/netns") else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = name.split(separator: "-").last.flatMap({ Int32($0) }), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
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

    /// Installs the cleanup on exit, SIGINT and SIGTERM (once).
    func installCleanup() {
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
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
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

    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// Standard error, read on another thread; the group's wait orders the access.
private final class ErrorOutput: @unchecked Sendable {
    var data = Data()
}
