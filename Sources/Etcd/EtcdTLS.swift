import NIOSSL

/// PEM files for talking to etcd over https, as etcdctl's `--cacert`,
/// `--cert` and `--key`. Without `caFile` the system's roots are trusted;
/// `certFile` and `keyFile` (a client certificate, for etcd started with
/// `--client-cert-auth`) go together.
public struct EtcdTLS: Sendable, Hashable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// Loads the files now, so a wrong path fails `EtcdClient.init` and not
    /// the first request.
    func configuration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            let roots = try load(caFile) { try NIOSSLCertificate.fromPEMFile($0) }
            configuration.trustRoots = .certificates(roots)
        }
        switch (certFile, keyFile) {
        case (nil, nil):
            break
        case (let certFile?, let keyFile?):
            let chain = try load(certFile) { try NIOSSLCertificate.fromPEMFile($0) }
            let key = try load(keyFile) { try NIOSSLPrivateKey(file: $0, format: .pem) }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        case (let file?, nil), (nil, let file?):
            throw EtcdError.invalidTLS(file: file, underlying: MissingPair())
        }
        return configuration
    }

    private func load<T>(_ file: String, _ loader: (String) throws -> T) throws -> T {
        do {
            return try loader(file)
        } catch {
            throw EtcdError.invalidTLS(file: file, underlying: error)
        }
    }

    private struct MissingPair: Error, CustomStringConvertible {
        var description: String { "certFile and keyFile must be given together" }
    }
}
