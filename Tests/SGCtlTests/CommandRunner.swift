import Foundation
import Testing

/// Runs the built `sgctl` and system tools the way a user would, and
/// captures what they print.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum Command {
    /// The directory of the test bundle, where SwiftPM also puts the products.
    static let productsDirectory: URL = {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }()

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var examples: [URL] {
        let dir = packageRoot.appendingPathComponent("policies/examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { dir.appendingPathComponent($0) }
    }

    static func sgctl(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try run(productsDirectory.appendingPathComponent("sgctl").path, arguments, stdin: stdin)
    }

    static func run(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Output goes to files, not pipes: a chatty child can't block on a
        // full pipe while we wait for it.
        let dir = FileManager.default.temporaryDirectory
        let outURL = dir.appendingPathComponent("sgctl-test-out-\(UUID().uuidString)")
        let errURL = dir.appendingPathComponent("sgctl-test-err-\(UUID().uuidString)")
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
        let stdoutData = try Data(contentsOf: outURL)
        let stderrData = try Data(contentsOf: errURL)
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

/// Tests that need CAP_NET_ADMIN (to run `nft` in a private network
/// namespace). Without root they are skipped with a loud reason; in CI
/// (CI set, run as root) they must run, and fail if they can't.
enum Privilege {
    static let isRoot = getuid() == 0
    static let inCI = ProcessInfo.processInfo.environment["CI"] != nil
    static let canRunKernelTests = isRoot || inCI
    static let reason: Comment = "NEEDS ROOT: nft -c runs in a private network namespace (unshare -n); run the tests as root, as CI does"
}
