import CNetlink
import Foundation
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// One packet a `log group N` rule handed to nfnetlink_log: where netfilter
/// saw it, the rule's prefix, and the first bytes of the packet from its
/// network header on (as much as the copy range allowed).
public struct LoggedPacket: Sendable, Hashable {
    /// The NFLOG group it was sent to (the message's `res_id`).
    public var group: UInt16
    /// The netfilter family of the hook that logged it (`nfgen_family`):
    /// AF_INET or AF_INET6 for the inet, ip and ip6 tables, NFPROTO_BRIDGE ...
    public var protocolFamily: UInt8
    /// The EtherType in NFULA_PACKET_HDR (0x0800, 0x86dd), 0 when unknown.
    public var hardwareProtocol: UInt16
    /// The netfilter hook number in NFULA_PACKET_HDR (NF_INET_FORWARD is 2).
    public var hook: UInt8
    /// The rule's log prefix (NFULA_PREFIX), "" when it has none.
    public var prefix: String
    /// When the packet arrived (NFULA_TIMESTAMP) or, as the kernel sends that
    /// only for packets something already timestamped, when it was read.
    public var time: Date
    /// True when `time` came from the kernel.
    public var kernelTimestamp: Bool
    /// Input and output devices (NFULA_IFINDEX_INDEV, _OUTDEV), and for
    /// bridged packets the bridge ports (NFULA_IFINDEX_PHYSINDEV,
    /// _PHYSOUTDEV): names in the namespace the connection was opened in,
    /// `if<index>` for a device that is gone. Nil when the hook has none.
    public var inDevice: String?
    public var outDevice: String?
    public var physicalInDevice: String?
    public var physicalOutDevice: String?
    /// The packet from its network header (NFULA_PAYLOAD), cut at the copy range.
    public var payload: [UInt8]

    /// IPv4 or IPv6 by the hook's family, or for families such as bridge by
    /// the EtherType; nil for anything else (ARP).
    public var networkFamily: IPFamily? {
        switch Int32(protocolFamily) {
        case AF_INET: return .ipv4
        case AF_INET6: return .ipv6
        default:
            switch hardwareProtocol {
            case 0x0800: return .ipv4
            case 0x86DD: return .ipv6
            default: return nil
            }
        }
    }

    /// The hook's name as nft spells it (ip, ip6, inet, bridge and arp
    /// families number their hooks alike; netdev's are ingress and egress).
    public var hookName: String {
        if Int32(protocolFamily) == NFPROTO_NETDEV {
            return ["ingress", "egress"][safe: Int(hook)] ?? "hook \(hook)"
        }
        return ["prerouting", "input", "forward", "output", "postrouting"][safe: Int(hook)] ?? "hook \(hook)"
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// A subscriber to one NFLOG group of the calling thread's network
/// namespace: it binds the group (only one socket per namespace may), asks
/// for the first `copyRange` bytes of every packet, each delivered at once,
/// and unbinds when released. Equivalent to what ulogd's NFLOG input or
/// `tcpdump -i nflog:GROUP` set up.
///
/// The socket stays bound to the namespace it was opened in, and so do the
/// device names it reports. Not thread-safe: one reader.
public final class NFLogConnection {
    public let group: UInt16
    private let socket: NetlinkSocket
    /// An ordinary datagram socket of the same namespace, to name devices by
    /// their index after the thread has left it.
    private let namingSocket: Int32
    /// Packets that arrived while we waited for a configuration ack.
    private var early: [LoggedPacket] = []

    /// Binds `group`. Throws EPERM without CAP_NET_ADMIN, and also when
    /// another socket has the group (the kernel checks the owner before the
    /// command, so EBUSY only comes for a socket binding a group twice).
    public init(group: UInt16, copyRange: UInt32 = 256) throws(NetlinkError) {
        self.group = group
        socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
        namingSocket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard namingSocket >= 0 else { throw NetlinkError(operation: "open a socket to name devices", errno: Glibc.errno) }
        // Room for bursts: a full buffer loses packets (ENOBUFS).
        socket.reserveBuffers(sending: 0, replies: 16384)
        // From here on a failure goes through deinit, which closes both sockets.
        try configure("bind NFLOG group \(group)") { message in
            var command = nfulnl_msg_config_cmd(command: UInt8(NFULNL_CFG_CMD_BIND.rawValue))
            mnl_attr_put(message, UInt16(NFULA_CFG_CMD.rawValue), MemoryLayout<nfulnl_msg_config_cmd>.size, &command)
        }
        try configure("configure NFLOG group \(group)") { message in
            // The struct is packed to 6 bytes: write it by hand rather
            // than trust Swift's layout of it.
            var mode = [UInt8](repeating: 0, count: 6)
            withUnsafeBytes(of: copyRange.bigEndian) { mode.replaceSubrange(0..<4, with: $0) }
            mode[4] = UInt8(NFULNL_COPY_PACKET)
            mode.withUnsafeBytes { mnl_attr_put(message, UInt16(NFULA_CFG_MODE.rawValue), $0.count, $0.baseAddress) }
            // Deliver each packet as it is logged instead of batching up
            // to 100 or for a second: a person is watching.
            mnl_attr_put_u32(message, UInt16(NFULA_CFG_QTHRESH.rawValue), UInt32(1).bigEndian)
        }
    }

    deinit {
        // Best effort: closing the socket releases the group anyway.
        try? configure("unbind NFLOG group \(group)") { message in
            var command = nfulnl_msg_config_cmd(command: UInt8(NFULNL_CFG_CMD_UNBIND.rawValue))
            mnl_attr_put(message, UInt16(NFULA_CFG_CMD.rawValue), MemoryLayout<nfulnl_msg_config_cmd>.size, &command)
        }
        if namingSocket >= 0 { Glibc.close(namingSocket) }
    }

    /// Waits up to `timeout` (nil: as long as it takes) for logged packets
    /// and returns those that came, in order: empty when the time ran out.
    /// Throws ENOBUFS when the kernel dropped some because the socket's
    /// buffer was full; the connection stays usable.
    public func receive(timeout: Duration?) throws(NetlinkError) -> [LoggedPacket] {
        if !early.isEmpty {
            defer { early = [] }
            return early
        }
        var waiting = pollfd(fd: socket.fileDescriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = timeout.map { Int32(clamping: max(0, $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000)) } ?? -1
        let ready = poll(&waiting, 1, milliseconds)
        if ready < 0 {
            if Glibc.errno == EINTR { return [] }
            throw NetlinkError(operation: "wait for NFLOG group \(group)", errno: Glibc.errno)
        }
        guard ready > 0 else { return [] }
        var packets: [LoggedPacket] = []
        do {
            _ = try socket.receiveNotifications { message in
                if let packet = self.packet(of: message) { packets.append(packet) }
            }
        } catch {
            throw NetlinkError(operation: "receive from NFLOG group \(group)", errno: error.errno, kernelMessage: error.kernelMessage)
        }
        return packets
    }

    /// Sends one NFULNL_MSG_CONFIG for the group, with the attributes `fill`
    /// adds, and waits for its ack. Equivalent to libnetfilter_log's
    /// nflog_bind_group / nflog_set_mode / nflog_set_qthresh.
    private func configure(_ what: String, _ fill: (UnsafeMutablePointer<nlmsghdr>) -> Void) throws(NetlinkError) {
        var buffer = [UInt8](repeating: 0, count: 256)
        let sequence = socket.reserveSequences(1)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let message = NFNetlinkHeader.put(
                into: raw.baseAddress!, subsystem: NFNL_SUBSYS_ULOG, message: NFULNL_MSG_CONFIG.rawValue, flags: NLM_F_ACK,
                sequence: sequence, resourceID: group)
            fill(message)
            return Int(message.pointee.nlmsg_len)
        }
        try socket.send(Array(buffer[0..<length]), what: what)
        let replies = try socket.receive(what: what, onData: { message throws(NetlinkError) in
            if let packet = self.packet(of: message) { self.early.append(packet) }
        }, isDone: { replies, _ in replies.contains { $0.sequence == sequence } })
        if let failure = replies.first(where: { $0.sequence == sequence && $0.errno != 0 }) {
            throw NetlinkError(operation: what, errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
    }

    /// Decodes an NFULNL_MSG_PACKET; nil for anything else (NLMSG_DONE ends
    /// a datagram holding several packets).
    private func packet(of message: UnsafePointer<nlmsghdr>) -> LoggedPacket? {
        guard Int32(message.pointee.nlmsg_type) == (NFNL_SUBSYS_ULOG << 8) | Int32(NFULNL_MSG_PACKET.rawValue),
            Int(message.pointee.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + MemoryLayout<nfgenmsg>.size
        else { return nil }
        let header = mnl_nlmsg_get_payload(message)!.loadUnaligned(as: nfgenmsg.self)
        let attributes = RTAttributes(message: message, familyHeaderSize: MemoryLayout<nfgenmsg>.size)
        func attribute(_ type: nfulnl_attr_type) -> Int { Int(type.rawValue) }

        var packet = LoggedPacket(
            group: UInt16(bigEndian: header.res_id), protocolFamily: header.nfgen_family, hardwareProtocol: 0, hook: 0,
            prefix: attributes.string(attribute(NFULA_PREFIX)) ?? "", time: Date(), kernelTimestamp: false, payload: [])
        if let hw: nfulnl_msg_packet_hdr = attributes.value(attribute(NFULA_PACKET_HDR)) {
            packet.hardwareProtocol = UInt16(bigEndian: hw.hw_protocol)
            packet.hook = hw.hook
        }
        if let stamp = attributes[attribute(NFULA_TIMESTAMP)], stamp.count >= 16 {
            let seconds = UInt64(bigEndian: stamp.loadUnaligned(as: UInt64.self))
            let microseconds = UInt64(bigEndian: stamp.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            packet.time = Date(timeIntervalSince1970: Double(seconds) + Double(microseconds) / 1e6)
            packet.kernelTimestamp = true
        }
        func device(_ type: nfulnl_attr_type) -> String? {
            attributes.u32(attribute(type)).map { deviceName(index: UInt32(bigEndian: $0)) }
        }
        packet.inDevice = device(NFULA_IFINDEX_INDEV)
        packet.outDevice = device(NFULA_IFINDEX_OUTDEV)
        packet.physicalInDevice = device(NFULA_IFINDEX_PHYSINDEV)
        packet.physicalOutDevice = device(NFULA_IFINDEX_PHYSOUTDEV)
        if let payload = attributes[attribute(NFULA_PAYLOAD)] { packet.payload = Array(payload) }
        return packet
    }

    /// Equivalent to if_indextoname(3), in the connection's namespace.
    private func deviceName(index: UInt32) -> String {
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE))
        guard sg_interface_name(namingSocket, Int32(bitPattern: index), &name) == 0 else { return "if\(index)" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
