/// Everything one host must have, normalized and comparable: desired state
/// (compiled from a policy) and observed state (read back from the kernel)
/// are this same value, so `diff` can compare them.
public struct HostState: Hashable, Sendable, Codable {
    public var links: LinkState
    public var tables: [NFTTableID: NFTTable]

    public init(links: LinkState = LinkState(), tables: [NFTTable] = []) {
        self.links = links
        self.tables = Dictionary(uniqueKeysWithValues: tables.map { ($0.id, $0) })
    }

    /// Encodes tables as a list sorted by id, so JSON output is stable and
    /// readable (a dictionary with struct keys would encode as a flat array).
    enum CodingKeys: String, CodingKey { case links, tables }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        links = try c.decode(LinkState.self, forKey: .links)
        let list = try c.decode([NFTTable].self, forKey: .tables)
        tables = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { _, b in b })
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(links, forKey: .links)
        try c.encode(tables.values.sorted { $0.id < $1.id }, forKey: .tables)
    }
}
