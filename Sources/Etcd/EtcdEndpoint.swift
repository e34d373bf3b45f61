/// One etcd member's client URL, as etcdctl's `--endpoints` takes it:
/// `http://10.0.0.1:2379` or `https://etcd1.example:2379`.
struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Scheme, host and port, without a trailing slash; paths are appended.
    var base: String

    var description: String { base }

    init(_ text: String) throws {
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw EtcdError.invalidEndpoint(text, reason: "it must start with http:// or https://")
        }
        let authority = base.drop(while: { $0 != "/" }).dropFirst(2)
        guard !authority.isEmpty, !authority.contains("/") else {
            throw EtcdError.invalidEndpoint(text, reason: "it must be scheme://host:port, without a path")
        }
        self.base = base
    }

    var isTLS: Bool { base.hasPrefix("https://") }

    func url(_ path: String) -> String { base + path }
}
