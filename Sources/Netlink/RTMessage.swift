import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// One rtnetlink request being built: the netlink header, the family header
/// (`struct ifinfomsg` or `struct ndmsg`), then attributes, in a buffer the
/// message owns. What iproute2 builds with `addattr_l` / `addattr_nest`.
final class RTMessage {
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private let header: UnsafeMutablePointer<nlmsghdr>

    /// `flags` are added to NLM_F_REQUEST. `capacity` must hold the whole
    /// message; putting more is a programming error and traps.
    init(type: Int, flags: Int32, sequence: UInt32, capacity: Int = 1024) {
        self.capacity = capacity
        buffer = .allocate(byteCount: capacity, alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: capacity)
        header = mnl_nlmsg_put_header(buffer)
        header.pointee.nlmsg_type = UInt16(type)
        header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | flags)
        header.pointee.nlmsg_seq = sequence
    }

    deinit { buffer.deallocate() }

    var sequence: UInt32 { header.pointee.nlmsg_seq }
    var count: Int { Int(header.pointee.nlmsg_len) }

    /// `struct ifinfomsg`: which link (0: by IFLA_IFNAME or a new one) and
    /// which of its flags to change (`change` is the mask, 0 leaves them).
    func putLinkHeader(family: Int32 = AF_UNSPEC, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        var info = ifinfomsg()
        info.ifi_family = UInt8(family)
        info.ifi_index = index
        info.ifi_flags = flags
        info.ifi_change = change
        putFamilyHeader(info)
    }

    /// `struct ndmsg` of a neighbour / FDB entry.
    func putNeighbourHeader(family: Int32, index: Int32, state: UInt16, flags: UInt8) {
        var neighbour = ndmsg()
        neighbour.ndm_family = UInt8(family)
        neighbour.ndm_ifindex = index
        neighbour.ndm_state = state
        neighbour.ndm_flags = flags
        putFamilyHeader(neighbour)
    }

    private func putFamilyHeader<T>(_ value: T) {
        precondition(count + MemoryLayout<T>.size <= capacity, "rtnetlink message overflow")
        let extra = mnl_nlmsg_put_extra_header(header, MemoryLayout<T>.size)!
        extra.storeBytes(of: value, as: T.self)
    }

    func put(_ type: Int, u8 value: UInt8) { put(type, raw: value) }
    func put(_ type: Int, u16 value: UInt16) { put(type, raw: value) }
    func put(_ type: Int, u32 value: UInt32) { put(type, raw: value) }
    /// A 16-bit value the kernel reads in network byte order (`__be16`: ports).
    func put(_ type: Int, be16 value: UInt16) { put(type, raw: value.bigEndian) }

    /// A string, NUL-terminated (IFLA_IFNAME) or not (IFLA_INFO_KIND, as
    /// `ip` sends it); the kernel takes both.
    func put(_ type: Int, string: String, nulTerminated: Bool = true) {
        let fits = string.withCString {
            nulTerminated
                ? mnl_attr_put_strz_check(header, capacity, UInt16(type), $0)
                : mnl_attr_put_str_check(header, capacity, UInt16(type), $0)
        }
        precondition(fits, "rtnetlink message overflow")
    }

    func put(_ type: Int, bytes: [UInt8]) {
        let fits = bytes.withUnsafeBytes { mnl_attr_put_check(header, capacity, UInt16(type), $0.count, $0.baseAddress) }
        precondition(fits, "rtnetlink message overflow")
    }

    /// Any trivial value as the attribute's payload (a C struct, an integer
    /// in host byte order).
    func put<T: BitwiseCopyable>(_ type: Int, raw value: T) {
        let fits = withUnsafeBytes(of: value) { mnl_attr_put_check(header, capacity, UInt16(type), $0.count, $0.baseAddress) }
        precondition(fits, "rtnetlink message overflow")
    }

    /// A nested attribute holding what `body` puts. Without NLA_F_NESTED
    /// (libmnl sets it), as iproute2 sends IFLA_LINKINFO, IFLA_INFO_DATA and
    /// IFLA_AF_SPEC: these legacy attributes are parsed either way.
    func nest(_ type: Int, _ body: () -> Void) {
        guard let start = mnl_attr_nest_start_check(header, capacity, UInt16(type)) else {
            preconditionFailure("rtnetlink message overflow")
        }
        start.pointee.nla_type = UInt16(type)
        body()
        mnl_attr_nest_end(header, start)
    }

    func withBytes<T, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> T) throws(E) -> T {
        try body(UnsafeRawBufferPointer(start: buffer, count: count))
    }
}
