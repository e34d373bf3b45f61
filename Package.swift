// swift-tools-version: 6.1
import PackageDescription

// The layers (see README "Architecture"):
//   PolicyModel    policy.json types, strict decoding, validation        (pure Swift)
//   PolicyYAML     the same model read from YAML                         (pure Swift over Yams)
//   HostModel      HostState, HostDelta, diff, nft text renderer         (pure Swift)
//   PolicyCompiler Policy -> HostState of one host                        (pure Swift)
//   Controller     changes -> per-host deltas of only the affected hosts  (pure Swift)
//   PolicyTrace    one packet through the compiled rulesets, explained    (pure Swift)
//   PlanText       a plan grouped by port and group, as `sgctl plan` prints it (pure Swift)
//   RuleStats      rule counters named by the policy: `sgctl stats`, sgd's /metrics (pure Swift)
//   PacketSummary  a logged packet's first bytes read: addresses, protocol, ports (pure Swift)
//   Enforcer       keeps one host's kernel in its desired state (sources, link events, drift)
//   Etcd           etcd v3 client over the JSON gateway (AsyncHTTPClient)
//   Distribution   host states published to etcd, and the daemon's etcd source
//   sgctl, sgd, sgbench thin executables
// No pure target may depend on a C system library; the kernel layer comes later
// as its own module.
let package = Package(
    name: "sgctl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PolicyModel", targets: ["PolicyModel"]),
        .library(name: "PolicyYAML", targets: ["PolicyYAML"]),
        .library(name: "HostModel", targets: ["HostModel"]),
        .library(name: "PolicyCompiler", targets: ["PolicyCompiler"]),
        .library(name: "Controller", targets: ["Controller"]),
        .library(name: "PolicyTrace", targets: ["PolicyTrace"]),
        .library(name: "PlanText", targets: ["PlanText"]),
        .library(name: "RuleStats", targets: ["RuleStats"]),
        .library(name: "PacketSummary", targets: ["PacketSummary"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "Enforcer", targets: ["Enforcer"]),
        .library(name: "Etcd", targets: ["Etcd"]),
        .library(name: "Distribution", targets: ["Distribution"]),
        .executable(name: "sgctl", targets: ["sgctl"]),
        .executable(name: "sgd", targets: ["sgd"]),
        .executable(name: "sgbench", targets: ["sgbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
    ],
    targets: [
        .target(name: "PolicyModel"),
        // All C lives behind CNetlink and the Netlink module; nothing above imports either.
        .systemLibrary(name: "CNetlink", pkgConfig: "libnftnl", providers: [.apt(["libmnl-dev", "libnftnl-dev"])]),
        .target(name: "PolicyYAML", dependencies: ["PolicyModel", .product(name: "Yams", package: "Yams")]),
        .target(name: "HostModel", dependencies: ["PolicyModel"]),
        .target(name: "PolicyCompiler", dependencies: ["PolicyModel", "HostModel"]),
        .target(name: "Controller", dependencies: ["PolicyModel", "HostModel", "PolicyCompiler"]),
        .target(name: "PolicyTrace", dependencies: ["PolicyModel", "HostModel", "PolicyCompiler"]),
        .target(name: "PlanText", dependencies: ["PolicyModel", "HostModel", "PolicyCompiler"]),
        .target(name: "RuleStats", dependencies: ["PolicyModel", "HostModel", "PolicyCompiler"]),
        .target(name: "PacketSummary", dependencies: ["PolicyModel"]),
        .target(name: "Netlink", dependencies: ["CNetlink", "HostModel", "PolicyModel"]),
        .target(name: "Dataplane", dependencies: ["Netlink", "HostModel", "PolicyModel", "PolicyCompiler"]),
        .target(name: "SyntheticCloud", dependencies: ["PolicyModel"]),
        .target(name: "Enforcer", dependencies: [
            "Dataplane", "Netlink", "HostModel", "PolicyModel", "PolicyYAML", "PolicyCompiler",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "Etcd", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Distribution", dependencies: [
            "Etcd", "Enforcer", "HostModel",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sgd", dependencies: [
            "Enforcer", "Etcd", "Distribution", "Dataplane", "Netlink", "HostModel", "PolicyModel", "RuleStats",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(name: "sgctl", dependencies: [
            "PolicyModel", "PolicyYAML", "HostModel", "PolicyCompiler", "PolicyTrace", "PlanText", "RuleStats", "PacketSummary", "Dataplane", "Netlink", "Enforcer", "Etcd", "Distribution",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .executableTarget(name: "sgbench", dependencies: [
            "PolicyModel", "PolicyCompiler", "HostModel", "SyntheticCloud", "Netlink", "Controller", "Dataplane", "Etcd", "Distribution",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "RuleStatsTests", dependencies: ["RuleStats", "HostModel", "PolicyCompiler", "PolicyModel", "Dataplane"]),
        .testTarget(name: "PolicyModelTests", dependencies: [
            "PolicyModel", "PolicyYAML", "SyntheticCloud",
        ]),
        .testTarget(name: "ControllerTests", dependencies: [
            "Controller", "HostModel", "PolicyModel", "PolicyCompiler", "SyntheticCloud",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "HostModelTests", dependencies: [
            "HostModel", "PolicyModel", "PolicyCompiler", "SyntheticCloud",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "PolicyCompilerTests", dependencies: ["PolicyCompiler", "PolicyModel", "HostModel"]),
        .testTarget(name: "PolicyTraceTests", dependencies: ["PolicyTrace", "PolicyModel", "PolicyCompiler", "HostModel"]),
        .testTarget(name: "PacketSummaryTests", dependencies: ["PacketSummary", "PolicyModel"]),
        .testTarget(name: "PlanTextTests", dependencies: ["PlanText", "PolicyModel", "PolicyCompiler", "HostModel"]),
        .testTarget(name: "SGCtlTests", dependencies: ["PolicyModel", "SyntheticCloud"]),
        .testTarget(name: "DataplaneTests", dependencies: ["Dataplane", "HostModel", "PolicyModel", "PolicyCompiler"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "HostModel", "PolicyModel", "PolicyCompiler", "SyntheticCloud"]),
        .testTarget(name: "EnforcerTests", dependencies: ["Enforcer", "Dataplane", "HostModel", "PolicyModel", "PolicyCompiler"]),
        .testTarget(name: "EtcdTests", dependencies: [
            "Etcd", "Netlink", "Distribution", "Enforcer", "Controller", "PolicyCompiler", "HostModel", "PolicyModel",
            "SyntheticCloud",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The harness traces every reachability check it makes (PolicyTrace)
        // and compares the verdict with what the packets did.
        .testTarget(name: "IntegrationTests", dependencies: ["PolicyTrace", "PolicyModel"]),
    ]
)
