import Foundation
import Testing

/// Debian's etcd (etcd-server) in a namespace of the topology, serving
/// clients on `address`; its data lives in the scenario's work directory,
/// so a restart keeps what was written.
struct EtcdServer: Sendable {
    let node: Host
    let address: String
    let child: Child

    var url: String { "http://\(address):2379" }

    static func start(on node: Host, address: String) async throws -> EtcdServer {
        let data = node.topology.workDirectory.appendingPathComponent("etcd-\(node.name)")
        let child = try node.topology.start([
            "ip", "netns", "exec", node.namespace, "/usr/bin/etcd", "--name", node.name, "--data-dir", data.path,
            "--listen-client-urls", "http://\(address):2379", "--advertise-client-urls", "http://\(address):2379",
            "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
            "--initial-cluster", "\(node.name)=http://127.0.0.1:2380", "--log-level", "warn",
        ])
        let server = EtcdServer(node: node, address: address, child: child)
        for _ in 0..<(100 * Slowness.factor) {
            if try await node.httpGet("\(server.url)/health").body.contains("true") { return server }
            guard child.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("etcd did not start in \(node.namespace): \(child.stderr.suffix(2000))")
    }

    /// etcd killed (as a crash or an outage would).
    func kill() async {
        child.kill()
        _ = await child.exitStatus()
    }

    /// The same member started again on its data.
    func restarted() async throws -> EtcdServer { try await Self.start(on: node, address: address) }
}

extension Host {
    /// GET with Python's urllib from inside this namespace: status code and body.
    func httpGet(_ url: String) async throws -> (status: Int, body: String) {
        let script = """
            import sys, urllib.request, urllib.error
            try:
                r = urllib.request.urlopen("\(url)", timeout=5)
                print(r.status); sys.stdout.write(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code); sys.stdout.write(e.read().decode())
            except Exception as e:
                print(0); sys.stdout.write(str(e))
            """
        let out = try await mustExec(["python3", "-c", script])
        let firstLine = out.prefix { $0 != "\n" }
        return (Int(firstLine) ?? 0, String(out.dropFirst(firstLine.count + 1)))
    }
}
