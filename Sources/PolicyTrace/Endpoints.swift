import PolicyModel

/// An end of a trace as the user names it.
public enum EndpointSpec: Hashable, Sendable, CustomStringConvertible {
    /// A port by name; `address` is the one it sends from or is reached at
    /// (default: its first IP of the trace's family). An address that isn't
    /// the port's shows what port security does with it.
    case port(String, address: IPAddress? = nil)
    /// An address: the port that has it (as an IP or in an address pair),
    /// else a host outside the policy.
    case address(IPAddress)

    /// A port name or an address, as given on the command line.
    public init(_ text: String) {
        if let address = IPAddress(text) { self = .address(address) } else { self = .port(text) }
    }

    public var description: String {
        switch self {
        case .port(let name, let address): name + (address.map { " (\($0))" } ?? "")
        case .address(let address): "\(address)"
        }
    }

    var givenAddress: IPAddress? {
        switch self {
        case .port(_, let address): address
        case .address(let address): address
        }
    }
}

/// What a trace can't work with, said so that the user can fix it.
public struct TraceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An end of the traced packet once resolved against the policy.
struct Endpoint {
    /// Nil for an address outside the policy.
    var port: Port?
    var address: IPAddress
    var mac: MACAddress?
    /// Why an address belongs to no port, or how it was found.
    var note: String?
}

/// Finds the ports behind the names and addresses of a trace.
struct EndpointResolver {
    let policy: Policy

    func port(named name: String) throws(TraceError) -> Port {
        guard let port = policy.ports.first(where: { $0.name == name }) else {
            throw TraceError("no port \"\(name)\" in the policy\(NameSuggestion.hint(for: name, in: policy.ports.map(\.name))) (and it is not an IP address)")
        }
        return port
    }

    /// The ports that may use the address, best first: its own IP before an
    /// address pair, a longer pair prefix before a shorter one.
    func owners(of address: IPAddress, on network: String? = nil) -> [Port] {
        var ranked: [(Port, Int)] = []
        for port in policy.ports where network == nil || port.network == network {
            if port.ips.contains(address) {
                ranked.append((port, Int.max))
            } else if let pair = port.allowedAddressPairs.filter({ $0.ip.contains(address) }).map(\.ip.length).max() {
                ranked.append((port, pair))
            }
        }
        return ranked.sorted { $0.1 > $1.1 }.map(\.0)
    }

    /// The MAC a port sends `address` with: an address pair's own MAC, or the port's.
    func mac(of port: Port, for address: IPAddress) -> MACAddress {
        if port.ips.contains(address) { return port.mac }
        let pair = port.allowedAddressPairs.filter { $0.ip.contains(address) }.max { $0.ip.length < $1.ip.length }
        return pair?.mac ?? port.mac
    }

    /// The port's own address of the family, for when none is given.
    func defaultAddress(of port: Port, _ family: IPFamily, role: String) throws(TraceError) -> IPAddress {
        if let ip = port.ips.first(where: { $0.family == family }) { return ip }
        if let pair = port.allowedAddressPairs.first(where: { $0.ip.family == family && $0.ip.isHost }) { return pair.ip.address }
        let option = role == "source" ? "--from-ip" : "--to with an address"
        throw TraceError("port \(port.name) has no \(family == .ipv4 ? "IPv4" : "IPv6") address to use as the \(role); give one with \(option), or another --ethertype")
    }

    func resolvePort(_ name: String, address: IPAddress?, family: IPFamily, role: String) throws(TraceError) -> Endpoint {
        let port = try port(named: name)
        var address = address
        if address == nil { address = try defaultAddress(of: port, family, role: role) }
        return Endpoint(port: port, address: address!, mac: mac(of: port, for: address!))
    }

    /// The source given by address: the port that has it, else outside.
    /// Identical addresses on several networks are told apart by the
    /// destination's network when it is a port.
    func resolveSource(_ address: IPAddress, destinationNetwork: String?) throws(TraceError) -> Endpoint {
        var owners = owners(of: address)
        if owners.count > 1, let destinationNetwork {
            let sameNetwork = owners.filter { $0.network == destinationNetwork }
            if !sameNetwork.isEmpty { owners = sameNetwork }
        }
        if owners.count > 1, owners.dropFirst().contains(where: { $0.network != owners[0].network }) {
            let names = owners.map { "\($0.name) (network \($0.network))" }.joined(separator: ", ")
            throw TraceError("\(address) is used by \(names): name the source port with --from PORT --from-ip \(address)")
        }
        guard let port = owners.first else { return Endpoint(port: nil, address: address, mac: nil) }
        return Endpoint(port: port, address: address, mac: mac(of: port, for: address))
    }
}
