import Foundation
import PolicyModel
import SyntheticCloud
import Testing

/// Every compiled ruleset must be accepted by the real kernel through the
/// stock `nft`, the independent reader. Each check runs in a fresh private
/// network namespace (`unshare -n`), so nothing outside it is touched and
/// nothing is left behind.
@Suite(.enabled(if: Privilege.canRunKernelTests, Privilege.reason), .serialized)
struct NFTAcceptanceTests {
    /// Loads the ruleset into a new namespace and lists it back.
    static func loadInPrivateNamespace(_ ruleset: String) throws -> CommandResult {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sgctl-\(UUID().uuidString).nft")
        try ruleset.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try Command.run("/usr/bin/unshare", ["-n", "sh", "-c", "nft -c -f \"$0\" && nft -f \"$0\" && nft list ruleset", file.path])
    }

    static var exampleHosts: [(URL, String)] {
        Command.examples.flatMap { example -> [(URL, String)] in
            guard let data = FileManager.default.contents(atPath: example.path),
                case .success(let policy) = PolicyDecoder.decode(json: Array(data))
            else { return [] }
            return policy.hosts.map { (example, $0.name) }
        }
    }

    @Test func everyExampleHostCompilesToARulesetTheKernelAccepts() throws {
        let hosts = Self.exampleHosts
        #expect(hosts.count >= 9)
        for (example, host) in hosts {
            let compiled = try Command.sgctl(["compile", example.path, "--host", host, "--output", "nft"])
            try #require(compiled.status == 0, "\(compiled.stderr)")
            if compiled.stdout.isEmpty { continue }  // a host without ports needs nothing
            let loaded = try Self.loadInPrivateNamespace(compiled.stdout)
            #expect(loaded.status == 0, "\(example.lastPathComponent) --host \(host): \(loaded.stderr)")
            #expect(loaded.stdout.contains("table inet secgroups {"), "\(example.lastPathComponent) \(host)")
            #expect(loaded.stdout.contains("table bridge secgroups {"), "\(example.lastPathComponent) \(host)")
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func syntheticCloudsCompileToRulesetsTheKernelAccepts(seed: UInt64) throws {
        let policy = SyntheticCloud.generate(.small(seed: seed))
        let json = PolicyEncoder.json(policy)
        for host in policy.hosts.map(\.name) {
            let compiled = try Command.sgctl(["compile", "-", "--host", host, "--output", "nft"], stdin: json)
            try #require(compiled.status == 0, "\(compiled.stderr)")
            if compiled.stdout.isEmpty { continue }
            let loaded = try Self.loadInPrivateNamespace(compiled.stdout)
            #expect(loaded.status == 0, "seed \(seed) host \(host): \(loaded.stderr)")
        }
    }

    @Test func loadingTheRulesetTwiceReplacesOnlyOurTables() throws {
        let example = Command.packageRoot.appendingPathComponent("policies/examples/two-tier-web.json").path
        let compiled = try Command.sgctl(["compile", example, "--host", "hv1", "--output", "nft"])
        try #require(compiled.status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sgctl-\(UUID().uuidString).nft")
        try compiled.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // A foreign table in the same namespace must survive our file, loaded twice.
        let script = """
            nft add table inet foreign && nft add chain inet foreign keep '{ type filter hook input priority 0; }' &&
            nft -f "$0" && nft -f "$0" && nft list table inet foreign && nft list tables
            """
        let result = try Command.run("/usr/bin/unshare", ["-n", "sh", "-c", script, file.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("chain keep"))
        #expect(result.stdout.contains("table bridge secgroups"))
        #expect(result.stdout.contains("table inet secgroups"))
    }
}
