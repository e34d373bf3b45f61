import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// One kernel reply to a request: an ack (errno 0), an error, or a data
/// message of a dump.
struct NetlinkReply {
    var sequence: UInt32
    var errno: Int32
    var kernelMessage: String?
}

/// A netlink socket of one bus (NETLINK_NETFILTER or NETLINK_ROUTE) in the
/// calling thread's network namespace, owning its libmnl handle. Requests go
/// out as whole buffers; replies are matched to requests by sequence number,
/// so a caller can map an error back to the object that caused it.
final class NetlinkSocket {
    private let handle: OpaquePointer
    let portID: UInt32
    private var nextSequence: UInt32
    private let bus: Int32

    /// `groups` subscribes to multicast groups (RTMGRP_LINK for link
    /// events); `receiveTimeout` bounds every wait for a reply.
    init(bus: Int32, groups: UInt32 = 0, receiveTimeout: Int = 10) throws(NetlinkError) {
        guard let handle = mnl_socket_open(bus) else {
            throw NetlinkError(operation: "open netlink socket", errno: Glibc.errno)
        }
        self.handle = handle
        self.bus = bus
        var on: Int32 = 1
        // Extended acks carry the kernel's explanation; capped acks leave out
        // the echoed request, which we don't need (we match by sequence).
        _ = mnl_socket_setsockopt(handle, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(handle, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        guard mnl_socket_bind(handle, groups, pid_t(MNL_SOCKET_AUTOPID)) >= 0 else {
            let error = Glibc.errno
            mnl_socket_close(handle)
            throw NetlinkError(operation: "bind netlink socket", errno: error)
        }
        portID = mnl_socket_get_portid(handle)
        nextSequence = UInt32(truncatingIfNeeded: time(nil))
        // A reply that doesn't come must not hang the caller forever.
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(mnl_socket_get_fd(handle), SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { mnl_socket_close(handle) }

    /// For poll(2): a subscriber waits for data with a deadline of its own.
    var fileDescriptor: Int32 { mnl_socket_get_fd(handle) }

    /// Reserves `count` consecutive sequence numbers and returns the first.
    func reserveSequences(_ count: Int) -> UInt32 {
        let first = nextSequence
        nextSequence &+= UInt32(count)
        return first
    }

    /// Makes room for a large batch and its acks (as root, beyond the
    /// default limits; nft does the same).
    func reserveBuffers(sending bytes: Int, replies: Int) {
        let fd = mnl_socket_get_fd(handle)
        var send = Int32(clamping: bytes + 65536)
        var receive = Int32(clamping: max(replies * 256, 1 << 20))
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send, socklen_t(MemoryLayout<Int32>.size))
        }
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    func send(_ bytes: [UInt8], what: String) throws(NetlinkError) {
        let sent = bytes.withUnsafeBytes { mnl_socket_sendto(handle, $0.baseAddress, $0.count) }
        if sent < 0 { throw NetlinkError(operation: what, errno: Glibc.errno) }
    }

    func send(_ bytes: UnsafeRawBufferPointer, what: String) throws(NetlinkError) {
        let sent = mnl_socket_sendto(handle, bytes.baseAddress, bytes.count)
        if sent < 0 { throw NetlinkError(operation: what, errno: Glibc.errno) }
    }

    /// Waits up to the receive timeout for the next datagram and hands each
    /// message in it to `onMessage`, whoever sent it (multicast notifications
    /// carry the port ID of the process whose request caused them). Returns
    /// false on a timeout; throws on errors, ENOBUFS included (the kernel
    /// dropped notifications because the socket's buffer was full).
    func receiveNotifications(_ onMessage: (UnsafePointer<nlmsghdr>) -> Void) throws(NetlinkError) -> Bool {
        let size = max(sg_mnl_socket_buffer_size(), 1 << 16)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        let received = mnl_socket_recvfrom(handle, buffer, size)
        if received < 0 {
            let error = Glibc.errno
            if error == EAGAIN || error == EINTR { return false }
            throw NetlinkError(operation: "receive notifications", errno: error)
        }
        var remaining = Int32(received)
        var message = buffer.assumingMemoryBound(to: nlmsghdr.self)
        while mnl_nlmsg_ok(message, remaining) {
            onMessage(UnsafePointer(message))
            message = mnl_nlmsg_next(message, &remaining)
        }
        return true
    }

    /// Reads replies until `isDone` says so, handing data messages to
    /// `onData` and collecting acks and errors.
    func receive(
        what: String, onData: (UnsafePointer<nlmsghdr>) throws(NetlinkError) -> Void = { _ throws(NetlinkError) in },
        isDone: ([NetlinkReply], _ sawDumpEnd: Bool) -> Bool
    ) throws(NetlinkError) -> [NetlinkReply] {
        var replies: [NetlinkReply] = []
        var sawDumpEnd = false
        let size = max(sg_mnl_socket_buffer_size(), 1 << 16)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while !isDone(replies, sawDumpEnd) {
            let received = mnl_socket_recvfrom(handle, buffer, size)
            if received < 0 {
                let error = Glibc.errno
                throw NetlinkError(
                    operation: what, errno: error,
                    kernelMessage: error == EAGAIN ? "no reply from the kernel within 10 s" : nil)
            }
            var remaining = Int32(received)
            var message = buffer.assumingMemoryBound(to: nlmsghdr.self)
            while mnl_nlmsg_ok(message, remaining) {
                let header = message.pointee
                if header.nlmsg_pid == portID || header.nlmsg_pid == 0 {
                    switch Int32(header.nlmsg_type) {
                    case NLMSG_ERROR:
                        replies.append(Self.parseError(message))
                    case NLMSG_DONE:
                        sawDumpEnd = true
                        if Int(header.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + 4 {
                            let status = mnl_nlmsg_get_payload(message)!.load(as: Int32.self)
                            if status < 0 { replies.append(NetlinkReply(sequence: header.nlmsg_seq, errno: -status)) }
                        }
                    case NLMSG_NOOP, NLMSG_OVERRUN:
                        break
                    default:
                        try onData(UnsafePointer(message))
                    }
                }
                message = mnl_nlmsg_next(message, &remaining)
            }
        }
        return replies
    }

    /// An NLMSG_ERROR: `struct nlmsgerr` (errno, the request's header), then
    /// with NLM_F_ACK_TLVS the extended-ack attributes.
    private static func parseError(_ message: UnsafeMutablePointer<nlmsghdr>) -> NetlinkReply {
        let payload = mnl_nlmsg_get_payload(message)!
        let error = payload.load(as: Int32.self)
        let request = payload.load(fromByteOffset: 4, as: nlmsghdr.self)
        var text: String?
        if message.pointee.nlmsg_flags & UInt16(NLM_F_ACK_TLVS) != 0 {
            let offset = UInt32(MemoryLayout<nlmsgerr>.size)
            var found: String?
            withUnsafeMutablePointer(to: &found) { box in
                _ = sg_attr_parse(message, offset, { attr, data in
                    guard let attr, let data else { return MNL_CB_OK }
                    if mnl_attr_get_type(attr) == UInt16(NLMSGERR_ATTR_MSG.rawValue), let s = mnl_attr_get_str(attr) {
                        data.assumingMemoryBound(to: String?.self).pointee = String(cString: s)
                    }
                    return MNL_CB_OK
                }, box)
            }
            text = found
        }
        return NetlinkReply(sequence: request.nlmsg_seq, errno: -error, kernelMessage: text)
    }
}
