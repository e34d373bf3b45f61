import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// Request/ack and dump exchanges of rtnetlink messages on a socket. Replies
/// are matched by sequence number and every dump is read to its end, so a
/// reply left over from one call can't be taken for the next one's.
extension NetlinkSocket {
    /// Sends `message` with NLM_F_ACK and waits for its ack. A data reply (the
    /// answer of a non-dump RTM_GET*) goes to `onData` first. Throws the
    /// kernel's errno and extended-ack text, naming `what`.
    func request(
        _ message: RTMessage, what: String, onData: (UnsafePointer<nlmsghdr>) -> Void = { _ in }
    ) throws(NetlinkError) {
        let sequence = message.sequence
        try message.withBytes { bytes throws(NetlinkError) in try send(bytes, what: what) }
        let replies = try receive(
            what: what,
            onData: { header throws(NetlinkError) in
                if header.pointee.nlmsg_seq == sequence { onData(header) }
            },
            isDone: { replies, _ in replies.contains { $0.sequence == sequence } })
        if let failure = replies.first(where: { $0.sequence == sequence && $0.errno != 0 }) {
            throw NetlinkError(operation: what, errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
    }

    /// Sends the dump request `build(sequence)` makes and returns what `parse`
    /// makes of each message until NLMSG_DONE. When the kernel flags the dump
    /// as interrupted (NLM_F_DUMP_INTR: the table changed while it was being
    /// read), the dump is taken again; after 5 such tries it fails with EINTR
    /// rather than return an inconsistent picture.
    func dump<T>(
        what: String, build: (UInt32) -> RTMessage, parse: (UnsafePointer<nlmsghdr>) -> T?
    ) throws(NetlinkError) -> [T] {
        var attempt = 0
        while true {
            attempt += 1
            let message = build(reserveSequences(1))
            let sequence = message.sequence
            var results: [T] = []
            var interrupted = false
            try message.withBytes { bytes throws(NetlinkError) in try send(bytes, what: what) }
            let replies = try receive(
                what: what,
                onData: { header throws(NetlinkError) in
                    guard header.pointee.nlmsg_seq == sequence else { return }
                    if Int32(header.pointee.nlmsg_flags) & NLM_F_DUMP_INTR != 0 { interrupted = true }
                    if let value = parse(header) { results.append(value) }
                },
                isDone: { replies, sawEnd in sawEnd || replies.contains { $0.sequence == sequence && $0.errno != 0 } })
            if let failure = replies.first(where: { $0.sequence == sequence && $0.errno != 0 }) {
                throw NetlinkError(operation: what, errno: failure.errno, kernelMessage: failure.kernelMessage)
            }
            if !interrupted { return results }
            if attempt >= 5 { throw NetlinkError(operation: "\(what) (interrupted 5 times by concurrent changes)", errno: EINTR) }
        }
    }
}
