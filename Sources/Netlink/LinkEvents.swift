import CNetlink
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A change to a network device, as rtnetlink announces it.
public enum LinkEvent: Sendable, Hashable {
    /// RTM_NEWLINK: the device appeared or changed (state, master, ...).
    case changed(device: String)
    /// RTM_DELLINK: the device is gone.
    case removed(device: String)
    /// The kernel dropped notifications (the socket's buffer overflowed):
    /// anything may have changed, so everything must be looked at again.
    case lost
}

/// Link events of the calling thread's network namespace.
/// Equivalent to: `ip monitor link`.
public enum LinkEvents {
    /// Subscribes now (RTMGRP_LINK, so nothing after this call is missed)
    /// and streams events until the stream is dropped. A thread of its own
    /// blocks on the socket: netlink reads must not hold a cooperative thread.
    public static func subscribe() throws -> AsyncStream<LinkEvent> {
        // Used by the reader thread only, from here on.
        nonisolated(unsafe) let socket = try NetlinkSocket(bus: NETLINK_ROUTE, groups: UInt32(RTMGRP_LINK), receiveTimeout: 1)
        let (stream, continuation) = AsyncStream.makeStream(of: LinkEvent.self, bufferingPolicy: .unbounded)
        let state = StopFlag()
        continuation.onTermination = { _ in state.stop() }
        let thread = Thread {
            while !state.isStopped {
                do {
                    _ = try socket.receiveNotifications { message in
                        if let event = event(of: message) { continuation.yield(event) }
                    }
                } catch {
                    // ENOBUFS: some notifications are lost; say so and go on.
                    continuation.yield(.lost)
                }
            }
            continuation.finish()
        }
        thread.name = "link-events"
        thread.start()
        return stream
    }

    private static func event(of message: UnsafePointer<nlmsghdr>) -> LinkEvent? {
        switch Int(message.pointee.nlmsg_type) {
        case RTM_NEWLINK:
            return LinkRecord(message: message).map { .changed(device: $0.name) }
        case RTM_DELLINK:
            return LinkRecord(message: message).map { .removed(device: $0.name) }
        default:
            return nil
        }
    }
}

/// Set when the consumer goes away; the reader thread checks it after each
/// receive (at most a second).
private final class StopFlag: Sendable {
    private let stopped = Atomic<Bool>(false)
    var isStopped: Bool { stopped.load(ordering: .acquiring) }
    func stop() { stopped.store(true, ordering: .releasing) }
}
