import Etcd
import Foundation
import Netlink
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// These tests run a real etcd in a network namespace of their own and need
/// root for it. Without root they are skipped with this reason; CI runs as
/// root and must run them.
enum EtcdAccess {
    static let available = getuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil
    static let reason: Comment =
        "NEEDS ROOT: runs etcd in a private network namespace (ip netns add); run the tests as root, as CI does"
}

/// A single-member etcd 3.4 in a network namespace made for one test, never
/// in the host's: etcd listens on 127.0.0.1:2379 there, and the clients the
/// test makes open their sockets there too, because their event loop thread
/// was started inside the namespace. `stop()` (and, as a fallback, deinit)
/// kills etcd and removes the namespace and the data directory, also when
/// the test failed.
final class TestEtcd: @unchecked Sendable {
    static let port = 2379
    let namespace: String
    let directory: String
    /// The certificates when etcd serves https and requires client certificates.
    let pki: TestPKI?
    /// One thread, started inside the namespace: every socket it opens is there.
    let group: MultiThreadedEventLoopGroup
    private var process: Process?
    private var clients: [EtcdClient] = []
    private var stopped = false

    var endpoint: String { "\(pki == nil ? "http" : "https")://127.0.0.1:\(Self.port)" }

    /// Creates the namespace and, with `start`, starts etcd and waits until it
    /// answers. With `tls`, etcd serves https and requires client certificates.
    init(tls: Bool = false, start: Bool = true) throws {
        namespace = "sgetcd-test-\(UUID().uuidString.prefix(8).lowercased())"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(namespace).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            pki = tls ? try TestPKI(directory: directory) : nil
            try Command.check("ip", ["netns", "add", namespace])
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        do {
            try Command.check("ip", ["-n", namespace, "link", "set", "lo", "up"])
            group = try NetworkNamespace.run(path: NetworkNamespace.path(named: namespace)) {
                MultiThreadedEventLoopGroup(numberOfThreads: 1)
            }
        } catch {
            _ = try? Command.run("ip", ["netns", "delete", namespace])
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        // From here on deinit cleans up when something fails.
        if start { try self.start() }
    }

    deinit {
        // Only when a test forgot `stop()` or init failed half-way.
        kill()
        if !stopped {
            try? group.syncShutdownGracefully()
            removeNamespace()
        }
    }

    /// Kills etcd (if running), closes the clients, removes everything.
    func stop() async {
        for client in clients { try? await client.shutdown() }
        clients = []
        _ = try? await blocking { self.kill() }
        try? await group.shutdownGracefully()
        removeNamespace()
        stopped = true
    }

    private func removeNamespace() {
        _ = try? Command.run("ip", ["netns", "delete", namespace])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A client whose connections live in this namespace; closed by `stop()`.
    func client(
        endpoints: [String]? = nil, tls: EtcdTLS? = nil, timeout: Duration = .seconds(5)
    ) throws -> EtcdClient {
        let client = try EtcdClient(
            endpoints: endpoints ?? [endpoint], tls: tls ?? pki?.clientTLS, timeout: timeout, eventLoopGroup: group)
        clients.append(client)
        return client
    }

    // MARK: etcd

    /// Equivalent to: `ip netns exec NS etcd --data-dir DIR --listen-client-urls ...`.
    func start() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") else {
            throw CommandError(command: "etcd", output: "etcd is not installed: apt-get install etcd-server etcd-client")
        }
        let peer = "http://127.0.0.1:2380"
        var arguments = [
            "netns", "exec", namespace, "/usr/bin/etcd",
            "--name", "test", "--data-dir", "\(directory)/data",
            "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "test=\(peer)",
        ]
        if let pki {
            arguments += [
                "--cert-file", pki.serverCert, "--key-file", pki.serverKey,
                "--client-cert-auth", "--trusted-ca-file", pki.caCert,
            ]
        }
        let log = "\(directory)/etcd.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        // `ip netns exec` execs etcd in place, so this process is etcd itself.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip"] + arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try output.close()
        self.process = process
        try waitUntilHealthy()
    }

    private func waitUntilHealthy() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            guard let process, process.isRunning else { break }
            if (try? etcdctlResult(["endpoint", "health", "--command-timeout=1s", "--dial-timeout=1s"]))?.status == 0 {
                return
            }
            usleep(100_000)
        }
        let log = (try? String(contentsOfFile: "\(directory)/etcd.log", encoding: .utf8)) ?? ""
        throw CommandError(command: "etcd in \(namespace)", output: "did not become healthy:\n\(log.suffix(2000))")
    }

    /// SIGKILL, as a crash or the OOM killer would.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    // MARK: Independent readers

    /// etcdctl inside the namespace, the reader the tests trust.
    func etcdctl(_ arguments: [String]) throws -> String {
        let result = try etcdctlResult(arguments)
        guard result.status == 0 else { throw CommandError(command: "etcdctl \(arguments)", output: result.stderr) }
        return result.stdout
    }

    private func etcdctlResult(_ arguments: [String]) throws -> Command.Result {
        var tls: [String] = []
        if let pki { tls = ["--cacert", pki.caCert, "--cert", pki.clientCert, "--key", pki.clientKey] }
        return try Command.run(
            "ip", ["netns", "exec", namespace, "env", "ETCDCTL_API=3", "etcdctl", "--endpoints", endpoint] + tls + arguments)
    }

    /// The TCP connections this test process has open to `port` inside the
    /// namespace. Equivalent to: `ip netns exec NS ss -tnp state established dport = :PORT`.
    func ownConnections(toPort port: Int = TestEtcd.port) throws -> Int {
        try Self.ownConnections(in: ["ip", "netns", "exec", namespace], toPort: port)
    }

    /// The same, in the namespace the test process itself runs in.
    static func ownConnections(in prefix: [String] = [], toPort port: Int) throws -> Int {
        let command = prefix + ["ss", "-Htnp", "state", "established", "( dport = :\(port) )"]
        let result = try Command.run(command[0], Array(command.dropFirst()))
        guard result.status == 0 else { throw CommandError(command: command.joined(separator: " "), output: result.stderr) }
        return result.stdout.split(separator: "\n").filter { $0.contains("pid=\(getpid()),") }.count
    }
}

/// Runs `body` with a fresh etcd and always stops it, whatever `body` does.
func withEtcd(tls: Bool = false, start: Bool = true, _ body: (TestEtcd) async throws -> Void) async throws {
    let etcd = try await blocking { try TestEtcd(tls: tls, start: start) }
    do {
        try await body(etcd)
    } catch {
        await etcd.stop()
        throw error
    }
    await etcd.stop()
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with openssl for one test. The server certificate allows client auth too:
/// etcd 3.4's gateway presents it when it calls etcd's own gRPC port.
struct TestPKI: Sendable {
    let caCert: String
    let serverCert: String
    let serverKey: String
    let clientCert: String
    let clientKey: String
    /// A client certificate signed by another CA, which etcd must refuse.
    let strangerCert: String
    let strangerKey: String

    var clientTLS: EtcdTLS { EtcdTLS(caFile: caCert, certFile: clientCert, keyFile: clientKey) }

    init(directory: String) throws {
        let dir = "\(directory)/pki"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func openssl(_ arguments: [String]) throws {
            try Command.check("openssl", arguments)
        }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for ca in ["ca", "stranger-ca"] {
            try openssl(["req", "-x509"] + key + [
                "-keyout", "\(dir)/\(ca).key", "-out", "\(dir)/\(ca).crt", "-days", "2", "-subj", "/CN=sgetcd test \(ca)",
            ])
        }
        func issue(_ name: String, by ca: String, extensions: String) throws {
            try extensions.write(toFile: "\(dir)/\(name).ext", atomically: true, encoding: .utf8)
            try openssl(["req"] + key + [
                "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr", "-subj", "/CN=sgetcd test \(name)",
            ])
            try openssl([
                "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/\(ca).crt", "-CAkey", "\(dir)/\(ca).key",
                "-CAcreateserial", "-days", "2", "-out", "\(dir)/\(name).crt", "-extfile", "\(dir)/\(name).ext",
            ])
        }
        try issue("server", by: "ca", extensions: """
            subjectAltName = IP:127.0.0.1, DNS:localhost
            extendedKeyUsage = serverAuth, clientAuth
            keyUsage = digitalSignature, keyEncipherment
            """)
        try issue("client", by: "ca", extensions: "extendedKeyUsage = clientAuth\nkeyUsage = digitalSignature\n")
        try issue("stranger", by: "stranger-ca", extensions: "extendedKeyUsage = clientAuth\nkeyUsage = digitalSignature\n")
        caCert = "\(dir)/ca.crt"
        serverCert = "\(dir)/server.crt"
        serverKey = "\(dir)/server.key"
        clientCert = "\(dir)/client.crt"
        clientKey = "\(dir)/client.key"
        strangerCert = "\(dir)/stranger.crt"
        strangerKey = "\(dir)/stranger.key"
    }
}

struct CommandError: Error, CustomStringConvertible {
    var command: String
    var output: String
    var description: String { "\(command): \(output)" }
}

/// Runs a program and collects its output.
enum Command {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func check(_ command: String, _ arguments: [String]) throws {
        let result = try run(command, arguments)
        guard result.status == 0 else {
            throw CommandError(command: ([command] + arguments).joined(separator: " "), output: result.stderr)
        }
    }

    static func run(_ command: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        // Files, not pipes: a full pipe would block a chatty command forever.
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sgetcd-cmd-\(UUID().uuidString)").path
        let outPath = base + ".out", errPath = base + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}

/// Runs blocking work (starting etcd, waiting for processes) on a thread of
/// its own: the tests run in parallel, and a machine with two cores has only
/// two threads for all their async code.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Fails instead of hanging when `body` takes longer than `seconds`.
func within<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw CommandError(command: what, output: "took more than \(seconds) s")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

extension EtcdKeyValue {
    var text: String { String(decoding: value, as: UTF8.self) }
}
