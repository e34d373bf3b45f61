import CNetlink
import HostModel
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// A VXLAN device's flood list: all-zero MAC FDB entries, one per remote VTEP,
/// where broadcast, unknown unicast and multicast frames go.
extension LinkConnection {
    /// Equivalent to: `bridge fdb append 00:00:00:00:00:00 dev DEV dst IP`
    /// (appending an entry that exists changes nothing) or `bridge fdb del
    /// 00:00:00:00:00:00 dev DEV dst IP`.
    func changeFlood(_ entry: FloodEntry, add: Bool) throws(NetlinkError) {
        let what = "\(add ? "add" : "delete") flood entry dev \(entry.device) dst \(entry.remote)"
        let link = try existingLink(entry.device, what: what)
        let message = LinkRequest.flood(entry.remote, device: link.index, add: add, sequence: socket.reserveSequences(1))
        try socket.request(message, what: what)
    }

    /// Every bridge-family FDB entry with a destination IP (VXLAN entries)
    /// and the all-zero MAC on the devices in `devices`. Equivalent to:
    /// `bridge fdb show`.
    func dumpFloodEntries(devices: [Int32: String], what: String) throws(NetlinkError) -> [FloodEntry] {
        try socket.dump(
            what: what,
            build: LinkRequest.dumpFDB(sequence:),
            parse: { message -> FloodEntry? in
                guard Int(message.pointee.nlmsg_type) == RTM_NEWNEIGH,
                    Int(message.pointee.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + MemoryLayout<ndmsg>.size
                else { return nil }
                let neighbour = UnsafeRawPointer(message).loadUnaligned(
                    fromByteOffset: MemoryLayout<nlmsghdr>.size, as: ndmsg.self)
                guard let device = devices[neighbour.ndm_ifindex] else { return nil }
                let attributes = RTAttributes(message: message, familyHeaderSize: MemoryLayout<ndmsg>.size)
                guard let mac = attributes[NDA_LLADDR], mac.elementsEqual(LinkRequest.floodMAC),
                    let remote = attributes[NDA_DST].flatMap(IPAddress.init(networkBytes:))
                else { return nil }
                return FloodEntry(device: device, remote: remote)
            })
    }
}
