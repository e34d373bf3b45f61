import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// How the client reads errors from AsyncHTTPClient and NIO: whether a
/// request can have reached etcd (which decides if a write may be retried on
/// another endpoint) and what to print instead of NIO's struct dumps.
enum TransportFailure {
    /// True when the connection was never established, so etcd cannot have
    /// seen the request and any operation may be tried on the next endpoint.
    static func isBeforeSending(_ error: any Error) -> Bool {
        switch error {
        case is NIOConnectionError:
            return true
        case let error as HTTPClientError:
            return [.connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout].contains(error)
        case let error as ChannelError:
            if case .connectTimeout = error { return true }
            return false
        case let error as IOError:
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode)
        case let error as NIOSSLError:
            // AsyncHTTPClient writes the request only after the handshake.
            if case .handshakeFailed = error { return true }
            return false
        default:
            return false
        }
    }

    /// - Parameter overTLS: the endpoint is https. With TLS 1.3 the client
    ///   finishes its handshake before etcd checks the client certificate, so
    ///   etcd refusing one shows up as the server closing the connection.
    static func describe(_ error: any Error, overTLS: Bool = false) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let dnsError = error.dnsAError ?? error.dnsAAAAError {
                return "cannot resolve \(error.host): \(dnsError)"
            }
            let reasons = error.connectionErrors.map { describe($0.error) }
            return reasons.isEmpty ? "connect failed" : Array(Set(reasons)).sorted().joined(separator: ", ")
        case let error as IOError:
            return describeErrno(error.errnoCode)
        case let error as ChannelError:
            if case .connectTimeout(let limit) = error { return "connect timed out after \(limit.nanoseconds / 1_000_000) ms" }
            return "\(error)"
        case HTTPParserError.invalidEOFState:
            return "the connection closed in the middle of the answer"
        case let error as HTTPClientError where error == .connectTimeout:
            return "connect timed out"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            return "the connection was closed by the server"
                + (overTLS ? "; over https this is also how etcd refuses a missing or untrusted client "
                    + "certificate: check EtcdTLS certFile and keyFile" : "")
        case let error as NIOSSLError:
            return "TLS failed: \(error)" + tlsHint(error)
        case let error as BoringSSLError:
            return "TLS failed: \(error)" + tlsHint(error)
        default:
            return "\(error)"
        }
    }

    private static func describeErrno(_ code: CInt) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "connection reset by the server"
        case ENETUNREACH: "network unreachable"
        case EHOSTUNREACH: "host unreachable"
        case ETIMEDOUT: "connection timed out"
        default: String(cString: strerror(code))
        }
    }

    /// etcd started with --client-cert-auth refuses a client without a
    /// certificate with a TLS alert, which BoringSSL reports by its
    /// constant's name; say what it means.
    private static func tlsHint(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("HANDSHAKE_FAILURE") || text.contains("BAD_CERTIFICATE") {
            return " (the server refused the client certificate or requires one: check EtcdTLS certFile and keyFile)"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return " (the server's certificate is not trusted: check EtcdTLS caFile)"
        }
        return ""
    }
}

/// Runs `operation`, cancelling it when `limit` passes first. Cancelling an
/// AsyncHTTPClient request closes its connection, so nothing is left behind.
func withTimeLimit<T: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw EtcdTimeout(limit: limit)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}

/// Runs a task's code on one event loop thread of the client's group.
/// AsyncHTTPClient opens a connection to an IP address from the thread that
/// calls `execute`; run there, the socket is opened by a thread of the
/// group, so a group started inside a network namespace keeps every
/// connection of the client in that namespace (as `sgctl --netns` and the
/// tests need), not in whichever namespace a Swift concurrency thread is in.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
