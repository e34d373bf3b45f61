import CNetlink
import HostModel

#if canImport(Glibc)
import Glibc
#endif

/// The project's links in one network namespace, over raw rtnetlink: creates
/// and deletes bridges and VXLAN devices, their flood entries, puts VM
/// devices and trunks on bridges, and reads it all back as a `LinkState`.
///
/// The socket belongs to the network namespace of the thread that made the
/// connection, and stays there whichever thread uses it later. Use one
/// connection from one thread at a time.
public final class LinkConnection {
    let socket: NetlinkSocket

    /// A NETLINK_ROUTE socket in the calling thread's network namespace.
    public init() throws(NetlinkError) {
        socket = try NetlinkSocket(bus: NETLINK_ROUTE)
    }

    /// One operation. Errors name the object and carry the kernel's errno
    /// and extended-ack text: `add bridge sgbr-vlan: Operation not supported`.
    public func apply(_ operation: LinkOperation) throws(NetlinkError) {
        switch operation {
        case .addBridge(let bridge): try addBridge(bridge)
        case .deleteBridge(let name): try deleteLink(name, kind: "bridge", what: "delete bridge \(name)")
        case .addVXLAN(let device): try addVXLAN(device)
        case .deleteVXLAN(let name): try deleteLink(name, kind: "vxlan", what: "delete vxlan \(name)")
        case .addFlood(let entry): try changeFlood(entry, add: true)
        case .deleteFlood(let entry): try changeFlood(entry, add: false)
        case .attachPort(let device, let port): try attachPort(device, port)
        case .detachPort(let device): try detach(device, what: "detach port \(device)")
        case .attachTrunk(let device, let bridge): try attachTrunk(device, bridge: bridge)
        case .detachTrunk(let device): try detach(device, what: "detach trunk \(device)")
        case .addTrunkVLANs(let device, let vlans): try changeTrunkVLANs(device, vlans, add: true)
        case .deleteTrunkVLANs(let device, let vlans): try changeTrunkVLANs(device, vlans, add: false)
        }
    }

    /// Interface index, nil when the device does not exist (a VM whose tap
    /// isn't there yet). Asked over this connection's socket, so it answers
    /// for the connection's namespace, not the calling thread's.
    /// Equivalent to: `ip link show NAME`.
    public func interfaceIndex(_ name: String) throws(NetlinkError) -> Int32? {
        try link(named: name, what: "look up device \(name)")?.index
    }

    // MARK: - shared by the operations

    /// The link called `name`, nil when there is none. Equivalent to:
    /// `ip -d link show NAME`.
    func link(named name: String, what: String) throws(NetlinkError) -> LinkRecord? {
        // Longer names can't exist (IFNAMSIZ); the kernel would answer EINVAL.
        guard !name.isEmpty, name.utf8.count < Int(IFNAMSIZ) else { return nil }
        let message = LinkRequest.getLink(name: name, sequence: socket.reserveSequences(1))
        var found: LinkRecord?
        do {
            try socket.request(message, what: what) { found = LinkRecord(message: $0) }
        } catch let error where error.errno == ENODEV {
            return nil
        }
        return found
    }

    /// The link called `name`, or an ENODEV error saying which device of
    /// the operation is missing.
    func existingLink(_ name: String, what: String) throws(NetlinkError) -> LinkRecord {
        guard let record = try link(named: name, what: what) else {
            throw NetlinkError(operation: "\(what) (no device \(name))", errno: ENODEV)
        }
        return record
    }

    /// An existing bridge, or an error naming what isn't one.
    func existingBridge(_ name: String, what: String) throws(NetlinkError) -> LinkRecord {
        let record = try existingLink(name, what: what)
        guard record.kind == "bridge" else {
            throw NetlinkError(operation: "\(what) (\(name) is \(record.kindDescription), not a bridge)", errno: EINVAL)
        }
        return record
    }
}

extension LinkRecord {
    var kindDescription: String { kind.map { "a \($0) device" } ?? "a device without a kind" }
}
