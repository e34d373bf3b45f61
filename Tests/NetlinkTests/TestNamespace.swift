import Foundation
import Netlink
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A network namespace made for one test and removed when the value goes
/// away, even when the test fails. Netlink sockets opened inside `run` stay
/// bound to it, so the test's kernel objects live only there.
final class TestNamespace {
    let name: String

    init(_ label: String = "t") throws {
        name = "sgt-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
        let result = try Shell.run("ip", ["netns", "add", name])
        guard result.status == 0 else { throw ShellError(command: "ip netns add \(name)", output: result.stderr) }
        _ = try Shell.run("ip", ["-n", name, "link", "set", "lo", "up"])
    }

    deinit {
        _ = try? Shell.run("ip", ["netns", "delete", name])
    }

    /// Runs `body` on this thread inside the namespace, then returns to the
    /// original one. Keep the body synchronous: an `await` could resume on
    /// another thread, outside the namespace.
    func run<T>(_ body: () throws -> T) throws -> T {
        try NetworkNamespace.run(path: NetworkNamespace.path(named: name), body)
    }

    /// Runs a command inside the namespace: `ip netns exec NAME ...`.
    func exec(_ command: String, _ arguments: [String], stdin: String? = nil) throws -> Shell.Result {
        try Shell.run("ip", ["netns", "exec", name, command] + arguments, stdin: stdin)
    }

    /// `nft list ruleset` inside the namespace, the independent reader.
    func nftList(_ arguments: [String] = ["list", "ruleset"]) throws -> String {
        let result = try exec("nft", arguments)
        guard result.status == 0 else { throw ShellError(command: "nft \(arguments)", output: result.stderr) }
        return result.stdout
    }
}

struct ShellError: Error, CustomStringConvertible {
    var command: String
    var output: String
    var description: String { "\(command): \(output)" }
}

enum Shell {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ command: String, _ arguments: [String], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let dir = FileManager.default.temporaryDirectory
        let outURL = dir.appendingPathComponent("sgt-out-\(UUID().uuidString)")
        let errURL = dir.appendingPathComponent("sgt-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// Kernel tests need root (namespaces, nftables). Without it they are
/// skipped with this reason; CI runs as root and must run them.
enum KernelAccess {
    static let available = getuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil
    static let reason: Comment = "NEEDS ROOT: creates network namespaces and talks netlink; run the tests as root, as CI does"
}
