import ArgumentParser
import Dataplane
import Distribution
import Enforcer
import Etcd
import Foundation
import Hummingbird
import Logging
import Metrics
import Netlink
import Prometheus
import ServiceLifecycle

/// The per-host enforcer daemon.
@main
struct SGD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgd",
        abstract: "Keep this host's kernel in the state the policy gives it.",
        discussion: """
            Applies the host's part of the policy, attaches VMs' devices as they appear, \
            and repairs anything changed behind its back (checked on link events and \
            every --drift-interval). It never flushes: starting reads the kernel and \
            applies only the difference. A bad policy or a source that goes away leaves \
            the last good state enforced. Serves /metrics (Prometheus), /healthz and \
            /status (JSON, read by `sgctl status`) on --listen. SIGTERM or SIGINT stop it; \
            the kernel keeps the state.
            """,
        version: "0.1.0")

    @Option(help: "Where the policy comes from: file:PATH (a policy file, watched for changes) or etcd:URL[,URL...] (this host's compiled state, published by `sgctl apply --etcd`).")
    var source: SourceOption = .file("/etc/sgctl/policy.json")

    @OptionGroup var etcd: EtcdOptions

    @Option(help: "This host's name in the policy (default: the short host name).")
    var host: String?

    @Option(help: "Address and port of /metrics, /healthz and /status.")
    var listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 9469)

    @Option(help: "Seconds between drift checks (the kernel read back and compared).")
    var driftInterval: Double = 30

    @Flag(help: "Dump the nftables tables before every apply, even when nftables' generation says nothing committed since sgd's last batch (slower; for comparison, or if in doubt).")
    var readTablesEveryApply = false

    @Option(help: "Seconds between checks of a policy file for changes.")
    var pollInterval: Double = 0.25

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sgd")
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["sgd_apply_duration_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)

        let hostName = host ?? Enforcer.localHostName
        let desiredSource: any DesiredStateSource
        var etcdClient: EtcdClient?
        var reporter: (any StatusReporter)?
        switch source {
        case .file(let path):
            desiredSource = FileSource(path: path, host: hostName, pollInterval: .seconds(pollInterval))
        case .etcd(let endpoints):
            let client = try EtcdClient(endpoints: endpoints, tls: etcd.tls, logger: Logger(label: "etcd"))
            etcdClient = client
            reporter = EtcdStatusReporter(client: client, layout: etcd.layout, host: hostName, logger: logger)
            desiredSource = EtcdSource(client: client, endpoints: endpoints, layout: etcd.layout, host: hostName)
        }
        // Subscribe before the first read of the kernel, so no device that
        // appears in between is missed.
        let linkEvents = try LinkEvents.subscribe()
        let enforcer = Enforcer(
            host: hostName, source: desiredSource.description, dataplane: Dataplane(kernel: try NetlinkKernel()),
            configuration: Enforcer.Configuration(
                driftInterval: driftInterval > 0 ? .seconds(driftInterval) : nil, trustRulesetGeneration: !readTablesEveryApply),
            reporter: reporter, logger: logger)

        let app = Application(
            router: StatusRoutes.router(enforcer: enforcer, registry: registry),
            configuration: ApplicationConfiguration(address: .hostname(listen.host, port: listen.port), serverName: "sgd"),
            services: [EnforcerService(enforcer: enforcer, source: desiredSource, linkEvents: linkEvents)],
            logger: logger)
        do {
            try await app.runService()
        } catch {
            try? await etcdClient?.shutdown()
            throw error
        }
        try await etcdClient?.shutdown()
    }
}

/// Runs the enforcer as a service of the application, so that SIGTERM
/// stops it and the HTTP server together.
struct EnforcerService: Service {
    let enforcer: Enforcer
    let source: any DesiredStateSource
    let linkEvents: AsyncStream<LinkEvent>

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await enforcer.run(source: source, linkEvents: linkEvents)
        }
    }
}

enum SourceOption: ExpressibleByArgument {
    case file(String)
    case etcd([String])

    init?(argument: String) {
        if argument.hasPrefix("file:") {
            self = .file(String(argument.dropFirst("file:".count)))
        } else if argument.hasPrefix("etcd:") {
            self = .etcd(argument.dropFirst("etcd:".count).split(separator: ",").map(String.init))
        } else {
            return nil
        }
    }
}

struct ListenAddress: ExpressibleByArgument {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]) else { return nil }
        host = String(argument[..<colon])
        self.port = port
    }

    var defaultValueDescription: String { "\(host):\(port)" }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
