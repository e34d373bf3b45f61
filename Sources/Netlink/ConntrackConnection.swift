import CNetlink
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// Deletes connection-tracking entries of given zones, so that connections
/// the new rules no longer allow stop, including established ones: their
/// next packet is tracked anew and checked against the current rules.
///
/// Kernels before 6.8 can't filter a flush by zone, so this dumps the table
/// and deletes the matching entries one by one (in one send). Equivalent to:
/// `conntrack -D -w ZONE` for each zone.
public final class ConntrackConnection {
    private let socket: NetlinkSocket

    public init() throws(NetlinkError) {
        socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
    }

    /// Returns how many entries were deleted.
    @discardableResult
    public func deleteEntries(zones: Set<UInt16>) throws(NetlinkError) -> Int {
        guard !zones.isEmpty else { return 0 }
        return try deleteEntries { zones.contains($0.zone) }
    }

    /// Deletes the entries of `zone` whose original source or destination
    /// lies in one of `ranges`: the connections of a VM whose device is
    /// gone. Equivalent to: `conntrack -D -w ZONE -s ADDRESS` and `-d
    /// ADDRESS` for each address. Returns how many entries were deleted.
    @discardableResult
    public func deleteEntries(zone: UInt16, involving ranges: [IPRange]) throws(NetlinkError) -> Int {
        guard !ranges.isEmpty else { return 0 }
        return try deleteEntries { entry in
            entry.zone == zone && entry.addresses.contains { address in
                ranges.contains { $0.lower <= address && address <= $0.upper }
            }
        }
    }

    private func deleteEntries(where condition: (Entry) -> Bool) throws(NetlinkError) -> Int {
        let victims = try dump(where: condition)
        guard !victims.isEmpty else { return 0 }
        return try delete(victims)
    }

    /// One tracked connection to delete: its family and the raw bytes of its
    /// original-direction tuple, sent back as they came.
    struct Entry {
        var family: UInt8
        var zone: UInt16
        var tuple: [UInt8]

        /// The original direction's source and destination addresses (the
        /// tuple's CTA_TUPLE_IP).
        var addresses: [IPAddress] {
            var found: [IPAddress] = []
            Self.attributes(tuple[...]) { type, payload in
                guard type == Int(CTA_TUPLE_IP.rawValue) else { return }
                Self.attributes(payload) { type, value in
                    let kinds = [CTA_IP_V4_SRC, CTA_IP_V4_DST, CTA_IP_V6_SRC, CTA_IP_V6_DST].map { Int($0.rawValue) }
                    guard kinds.contains(type), let address = value.withUnsafeBytes(IPAddress.init(networkBytes:)) else { return }
                    found.append(address)
                }
            }
            return found
        }

        /// Walks netlink attributes in raw bytes: length and type (host
        /// order, flags masked off), then the payload, padded to 4 bytes.
        static func attributes(_ bytes: ArraySlice<UInt8>, _ body: (Int, ArraySlice<UInt8>) -> Void) {
            var offset = bytes.startIndex
            while offset + 4 <= bytes.endIndex {
                let length = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
                let type = Int(UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8) & 0x3fff  // NLA_TYPE_MASK: without the nested and byte-order flags
                guard length >= 4, offset + length <= bytes.endIndex else { return }
                body(type, bytes[(offset + 4)..<(offset + length)])
                offset += (length + 3) & ~3
            }
        }
    }

    private func dump(where condition: (Entry) -> Bool) throws(NetlinkError) -> [Entry] {
        var buffer = [UInt8](repeating: 0, count: 256)
        let sequence = socket.reserveSequences(1)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let nlh = NFNetlinkHeader.put(
                into: raw.baseAddress!, subsystem: NFNL_SUBSYS_CTNETLINK, message: IPCTNL_MSG_CT_GET.rawValue, flags: NLM_F_DUMP,
                sequence: sequence)
            return Int(nlh.pointee.nlmsg_len)
        }
        try socket.send(Array(buffer[0..<length]), what: "dump connection tracking table")
        var entries: [Entry] = []
        let replies = try socket.receive(what: "dump connection tracking table", onData: { message throws(NetlinkError) in
            if let entry = Self.parse(message), condition(entry) { entries.append(entry) }
        }, isDone: { replies, done in done || replies.contains { $0.errno != 0 } })
        if let failure = replies.first(where: { $0.errno != 0 }) {
            throw NetlinkError(operation: "dump connection tracking table", errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
        return entries
    }

    private static func parse(_ message: UnsafePointer<nlmsghdr>) -> Entry? {
        let family = mnl_nlmsg_get_payload(message)!.load(as: nfgenmsg.self).nfgen_family
        struct Found {
            var zone: UInt16 = 0
            var tuple: [UInt8]?
        }
        var found = Found()
        withUnsafeMutablePointer(to: &found) { box in
            _ = sg_attr_parse(message, UInt32(MemoryLayout<nfgenmsg>.size), { attr, data in
                guard let attr, let data else { return MNL_CB_OK }
                let found = data.assumingMemoryBound(to: Found.self)
                switch Int32(mnl_attr_get_type(attr)) {
                case Int32(CTA_ZONE.rawValue):
                    found.pointee.zone = UInt16(bigEndian: mnl_attr_get_u16(attr))
                case Int32(CTA_TUPLE_ORIG.rawValue):
                    let length = Int(mnl_attr_get_payload_len(attr))
                    let payload = UnsafeRawBufferPointer(start: mnl_attr_get_payload(attr), count: length)
                    found.pointee.tuple = Array(payload)
                default:
                    break
                }
                return MNL_CB_OK
            }, box)
        }
        guard let tuple = found.tuple else { return nil }
        return Entry(family: family, zone: found.zone, tuple: tuple)
    }

    private func delete(_ entries: [Entry]) throws(NetlinkError) -> Int {
        let first = socket.reserveSequences(entries.count)
        var buffer = [UInt8]()
        buffer.reserveCapacity(entries.count * 128)
        var scratch = [UInt8](repeating: 0, count: 512)
        for (i, entry) in entries.enumerated() {
            let length = scratch.withUnsafeMutableBytes { raw -> Int in
                let nlh = NFNetlinkHeader.put(
                    into: raw.baseAddress!, subsystem: NFNL_SUBSYS_CTNETLINK, message: IPCTNL_MSG_CT_DELETE.rawValue, flags: NLM_F_ACK,
                    sequence: first &+ UInt32(i), family: entry.family)
                entry.tuple.withUnsafeBytes { tuple in
                    mnl_attr_put(nlh, UInt16(CTA_TUPLE_ORIG.rawValue) | UInt16(NLA_F_NESTED), tuple.count, tuple.baseAddress)
                }
                mnl_attr_put_u16(nlh, UInt16(CTA_ZONE.rawValue), entry.zone.bigEndian)
                return Int(nlh.pointee.nlmsg_len)
            }
            buffer.append(contentsOf: scratch[0..<length])
        }
        socket.reserveBuffers(sending: buffer.count, replies: entries.count)
        try socket.send(buffer, what: "delete connection tracking entries")
        let replies = try socket.receive(what: "delete connection tracking entries", isDone: { replies, _ in
            replies.count >= entries.count
        })
        // An entry that expired meanwhile is already gone: that's fine.
        if let failure = replies.first(where: { $0.errno != 0 && $0.errno != ENOENT }) {
            throw NetlinkError(operation: "delete connection tracking entry", errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
        return replies.filter { $0.errno == 0 }.count
    }
}
