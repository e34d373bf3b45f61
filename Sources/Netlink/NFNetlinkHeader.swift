import CNetlink

#if canImport(Glibc)
import Glibc
#endif

/// The two headers every nfnetlink request (conntrack, NFLOG) starts with:
/// `struct nlmsghdr`, whose type is the subsystem and its message, and
/// `struct nfgenmsg`. Attributes follow through the returned header.
enum NFNetlinkHeader {
    /// `resourceID` is in host byte order (NFLOG's group; 0 for conntrack).
    static func put(
        into buffer: UnsafeMutableRawPointer, subsystem: Int32, message: UInt32, flags: Int32, sequence: UInt32,
        family: UInt8 = UInt8(AF_UNSPEC), resourceID: UInt16 = 0
    ) -> UnsafeMutablePointer<nlmsghdr> {
        let header = mnl_nlmsg_put_header(buffer)!
        header.pointee.nlmsg_type = UInt16((subsystem << 8) | Int32(message))
        header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | flags)
        header.pointee.nlmsg_seq = sequence
        let generic = mnl_nlmsg_put_extra_header(header, MemoryLayout<nfgenmsg>.size)!.assumingMemoryBound(to: nfgenmsg.self)
        generic.pointee.nfgen_family = family
        generic.pointee.version = UInt8(NFNETLINK_V0)
        generic.pointee.res_id = resourceID.bigEndian
        return header
    }
}
