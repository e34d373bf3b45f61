import ArgumentParser
import Etcd

/// The etcd options `sgd` and `sgctl apply --etcd` share.
public struct EtcdOptions: ParsableArguments {
    @Option(help: "Key prefix of the cloud's state in etcd.")
    public var etcdPrefix = "/sgctl/v1"

    @Option(help: "CA certificate (PEM) to verify https:// etcd endpoints.")
    public var etcdCA: String?

    @Option(help: "Client certificate (PEM) for etcd's --client-cert-auth.")
    public var etcdCert: String?

    @Option(help: "Client key (PEM) for --etcd-cert.")
    public var etcdKey: String?

    public init() {}

    public var layout: EtcdLayout { EtcdLayout(prefix: etcdPrefix) }

    public var tls: EtcdTLS? {
        etcdCA == nil && etcdCert == nil && etcdKey == nil ? nil : EtcdTLS(caFile: etcdCA, certFile: etcdCert, keyFile: etcdKey)
    }
}
