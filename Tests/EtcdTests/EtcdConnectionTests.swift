import Etcd
import Foundation
import Netlink
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.enabled(if: EtcdAccess.available, EtcdAccess.reason))
struct EtcdConnectionTests {
    @Test func clientSocketsLiveInTheTestNamespace() async throws {
        try await withEtcd { etcd in
            let client = try etcd.client()
            try await client.put("/sg/k", [])
            // The pooled connection stays open: it is in the test's namespace,
            // and this process has none to port 2379 in its own.
            #expect(try etcd.ownConnections() == 1)
            #expect(try TestEtcd.ownConnections(toPort: TestEtcd.port) == 0)
        }
    }

    @Test func unreachableEndpointIsNamed() async throws {
        try await withEtcd(start: false) { etcd in
            let client = try etcd.client()
            do {
                _ = try await client.get("/sg/k")
                Issue.record("get should fail")
            } catch {
                #expect("\(error)" == "etcd range: cannot reach \(etcd.endpoint) (connection refused)")
            }
            // A refused connect cannot have applied a write, so it is "unreachable" too.
            do {
                try await client.put("/sg/k", [])
                Issue.record("put should fail")
            } catch let error as EtcdError {
                guard case .unreachable(let operation, let failures) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(operation == "put")
                #expect(failures.map(\.endpoint) == [etcd.endpoint])
            }
            let watch = client.watch(key: "/sg/k", fromRevision: 1)
            do {
                for try await _ in watch {}
                Issue.record("watch should fail")
            } catch {
                #expect("\(error)" == "etcd watch: cannot reach \(etcd.endpoint) (connection refused)")
            }
        }
    }

    @Test func deadFirstEndpointIsSkipped() async throws {
        try await withEtcd { etcd in
            let dead = "http://127.0.0.1:2479"
            let client = try etcd.client(endpoints: [dead, etcd.endpoint])
            let revision = try await client.put("/sg/k", "v".bytes)
            #expect(try await client.get("/sg/k").kv?.text == "v")
            let watchOnly = try etcd.client(endpoints: [dead, etcd.endpoint])
            let events = try await within(10, "watch via the second endpoint") {
                try await firstBatches(withEvents: 1, of: watchOnly.watch(key: "/sg/k", fromRevision: revision))
            }
            #expect(events.map(\.revision) == [revision])

            // Both dead: every endpoint is named, in order.
            let none = try etcd.client(endpoints: [dead, "http://127.0.0.1:2480"])
            do {
                _ = try await none.range(prefix: "/")
                Issue.record("range should fail")
            } catch {
                #expect("\(error)" == "etcd range: cannot reach any endpoint: "
                    + "\(dead) (connection refused); http://127.0.0.1:2480 (connection refused)")
            }
        }
    }

    @Test func silentEndpointTimesOutAndWritesAreNotRepeated() async throws {
        try await withEtcd { etcd in
            let silent = try SilentListener(namespace: etcd.namespace, port: 2479)
            defer { silent.close() }
            let client = try etcd.client(endpoints: [silent.endpoint, etcd.endpoint], timeout: .milliseconds(500))

            // The put reached the silent endpoint and got no answer: it may
            // have been applied, so it is not sent to the next endpoint.
            do {
                try await client.put("/sg/k", "v".bytes)
                Issue.record("put should fail")
            } catch {
                #expect("\(error)" == "etcd put at \(silent.endpoint) was interrupted and may or may not "
                    + "have been applied: no answer within 0.5 s")
            }
            #expect(try etcd.etcdctl(["get", "/sg/k"]) == "")

            // A read moves on after the timeout, and later calls start at the
            // endpoint that answered.
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await client.get("/sg/k").kv == nil)
            #expect(clock.now - start >= .milliseconds(500))
            try await client.put("/sg/k", "v".bytes)
            #expect(try etcd.etcdctl(["get", "/sg/k", "--print-value-only"]) == "v\n")
        }
    }

    @Test func blackholedEndpointTimesOutConnectingAndWritesMoveOn() async throws {
        try await withEtcd { etcd in
            // Packets to 10.99.0.2 are dropped on arrival: a connect gets no
            // answer at all, as with a host that is down.
            try Command.check("ip", ["-n", etcd.namespace, "address", "add", "10.99.0.2/32", "dev", "lo"])
            try Command.check("ip", ["netns", "exec", etcd.namespace, "nft",
                "add table inet blackhole; "
                + "add chain inet blackhole input { type filter hook input priority 0; }; "
                + "add rule inet blackhole input ip daddr 10.99.0.2 drop"])
            let blackhole = "http://10.99.0.2:2379"

            let alone = try etcd.client(endpoints: [blackhole], timeout: .seconds(1))
            do {
                try await alone.put("/sg/k", [])
                Issue.record("put should fail")
            } catch {
                #expect("\(error)" == "etcd put: cannot reach \(blackhole) (connect timed out)")
            }

            // The connect timed out, so nothing was sent: the write moves on.
            let client = try etcd.client(endpoints: [blackhole, etcd.endpoint], timeout: .seconds(1))
            try await client.put("/sg/k", "v".bytes)
            #expect(try etcd.etcdctl(["get", "/sg/k", "--print-value-only"]) == "v\n")
        }
    }

    @Test func tlsWithClientCertificates() async throws {
        try await withEtcd(tls: true) { etcd in
            let pki = try #require(etcd.pki)
            let client = try etcd.client()
            let revision = try await client.put("/sg/k", "over tls".bytes)
            #expect(try await client.get("/sg/k").kv?.text == "over tls")
            let events = try await within(10, "watch over TLS") {
                try await firstBatches(withEvents: 1, of: client.watch(key: "/sg/k", fromRevision: revision))
            }
            #expect(events.map(\.revision) == [revision])

            // Without a client certificate etcd refuses the connection. With
            // TLS 1.3 the client only sees the connection closed after its
            // handshake, so a write cannot be told apart from an interrupted one.
            let anonymous = try etcd.client(tls: EtcdTLS(caFile: pki.caCert))
            do {
                _ = try await anonymous.get("/sg/k")
                Issue.record("get without a client certificate should fail")
            } catch {
                #expect("\(error)".hasPrefix("etcd range: cannot reach \(etcd.endpoint) ("))
                #expect("\(error)".contains("check EtcdTLS certFile and keyFile"))
            }
            do {
                try await anonymous.put("/sg/k", [])
                Issue.record("put without a client certificate should fail")
            } catch {
                #expect("\(error)".hasPrefix("etcd put"))
                #expect("\(error)".contains(etcd.endpoint))
                #expect("\(error)".contains("check EtcdTLS certFile and keyFile"))
            }

            // A certificate from another CA is refused too.
            let stranger = try etcd.client(
                tls: EtcdTLS(caFile: pki.caCert, certFile: pki.strangerCert, keyFile: pki.strangerKey))
            do {
                _ = try await stranger.get("/sg/k")
                Issue.record("a client certificate from another CA should be refused")
            } catch {
                #expect("\(error)".contains("check EtcdTLS certFile and keyFile"))
            }

            // A client that does not trust etcd's CA refuses etcd.
            let distrustful = try etcd.client(
                tls: EtcdTLS(caFile: pki.strangerCert, certFile: pki.clientCert, keyFile: pki.clientKey))
            do {
                _ = try await distrustful.get("/sg/k")
                Issue.record("a server from an untrusted CA should be refused")
            } catch {
                #expect("\(error)".contains("the server's certificate is not trusted"))
            }
            // Nothing of the refused writes arrived.
            #expect(try etcd.etcdctl(["get", "/sg/k", "--print-value-only"]) == "over tls\n")
        }
    }
}

/// A port in a namespace where the kernel accepts connections that nobody
/// ever answers: the request goes out, the answer never comes.
final class SilentListener: @unchecked Sendable {
    let endpoint: String
    private var descriptor: Int32

    init(namespace: String, port: Int) throws {
        endpoint = "http://127.0.0.1:\(port)"
        descriptor = try NetworkNamespace.run(path: NetworkNamespace.path(named: namespace)) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw CommandError(command: "socket", output: String(cString: strerror(errno))) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(fd, 16) == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw CommandError(command: "listen on 127.0.0.1:\(port)", output: reason)
            }
            return fd
        }
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }
}
