import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// Runs code with the calling thread in another network namespace. Netlink
/// sockets opened there stay bound to it after the thread returns, which is
/// how `sgctl --netns` and the tests work on a namespace without forking.
/// Equivalent to: `ip netns exec NAME ...` for the sockets opened in `body`.
public enum NetworkNamespace {
    public static func path(named name: String) -> String { "/var/run/netns/\(name)" }

    /// Keep `body` synchronous: an `await` could resume on another thread.
    public static func run<T>(path: String, _ body: () throws -> T) throws -> T {
        let original = open("/proc/self/task/\(sg_gettid())/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError(operation: "open own network namespace", errno: errno) }
        defer { close(original) }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw NetlinkError(operation: "open network namespace \(path)", errno: errno) }
        defer { close(target) }
        guard sg_setns_net(target) == 0 else { throw NetlinkError(operation: "enter network namespace \(path)", errno: errno) }
        defer { precondition(sg_setns_net(original) == 0, "could not return to the original network namespace") }
        return try body()
    }

    /// Runs `body` in a new, empty network namespace that disappears with the
    /// last socket opened in it. Kernel features are the same everywhere, so
    /// probing them here creates and deletes nothing where anyone can see it
    /// (no link events, no ruleset changes in the host's namespace).
    public static func runIsolated<T>(_ body: () throws -> T) throws -> T {
        let original = open("/proc/self/task/\(sg_gettid())/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError(operation: "open own network namespace", errno: errno) }
        defer { close(original) }
        guard sg_unshare_net() == 0 else { throw NetlinkError(operation: "create a private network namespace", errno: errno) }
        defer { precondition(sg_setns_net(original) == 0, "could not return to the original network namespace") }
        return try body()
    }
}
