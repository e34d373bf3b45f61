import Foundation
@testable import HostModel
import PolicyCompiler
import PolicyModel
import SyntheticCloud
import Testing

@testable import Netlink

/// The nftables codec against the real kernel, in namespaces of its own.
/// The independent readers are the stock `nft` tool: the same state loaded
/// as text with `nft -f` into a second namespace must list byte-identically
/// to what the codec wrote over netlink, and `nft -j` must parse it.
@Suite(.serialized, .enabled(if: isRoot, "needs root for network namespaces"))
struct NFTConnectionTests {
    /// Every host of every example policy, and hosts of a generated cloud.
    static let cases: [(label: String, state: HostState)] = {
        var out: [(String, HostState)] = []
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../policies/examples")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
        for file in files.sorted() where file.hasSuffix(".json") {
            let data = FileManager.default.contents(atPath: examples.appendingPathComponent(file).path) ?? Data()
            guard case .success(let policy) = PolicyDecoder.decode(json: [UInt8](data)) else { continue }
            for host in policy.hosts {
                out.append(("\(file) \(host.name)", try! PolicyCompiler(policy).compile(host: host.name)))
            }
        }
        let cloud = SyntheticCloud.generate(.small(seed: 7))
        for host in cloud.hosts.prefix(3) {
            out.append(("synthetic \(host.name)", try! PolicyCompiler(cloud).compile(host: host.name)))
        }
        return out
    }()

    @Test("netlink and nft -f give the same ruleset, and read-back is the compiled state", arguments: 0..<cases.count)
    func roundTrip(_ index: Int) throws {
        let (label, state) = Self.cases[index]
        let viaNetlink = try TestNamespace("nl")
        let viaText = try TestNamespace("tx")
        let read = try viaNetlink.run { () throws -> [NFTTable] in
            let nft = try NFTConnection()
            try nft.apply(diff(HostState(), state).nft)
            return try nft.read(Array(state.tables.keys.sorted()))
        }
        let text = NFTRenderer.ruleset(state.tables.values)
        let load = try viaText.exec("nft", ["-f", "-"], stdin: text)
        #expect(load.status == 0, "\(label): nft -f refused the compiled text: \(load.stderr)")

        #expect(try viaNetlink.nftList() == viaText.nftList(), "\(label): nft lists the two rulesets differently")
        let observed = Dictionary(uniqueKeysWithValues: read.map { ($0.id, $0) })
        #expect(observed == state.tables, "\(label): read-back differs from the compiled tables")
        #expect(diffTables(observed, state.tables).isEmpty, "\(label): a second apply would change something")

        let json = try viaNetlink.nftList(["-j", "list", "ruleset"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((parsed?["nftables"] as? [Any])?.isEmpty == false, "\(label): nft -j gave no objects")
    }

    @Test("an incremental change reaches exactly the new state, with few operations")
    func incremental() throws {
        let policy = SyntheticCloud.generate(.small(seed: 11))
        let host = policy.hosts[0].name
        let before = try PolicyCompiler(policy).compile(host: host)
        var changed = policy
        // Take one port of this host out of the policy, as a VM deletion would.
        let index = try #require(changed.ports.firstIndex { $0.host == host })
        changed.ports.remove(at: index)
        let after = try PolicyCompiler(changed).compile(host: host)

        let ns = try TestNamespace("inc")
        let (observed, operations) = try ns.run { () throws -> ([NFTTableID: NFTTable], [NFTOperation]) in
            let nft = try NFTConnection()
            try nft.apply(diff(HostState(), before).nft)
            let current = try nft.read(Dataplane.tables)
            let delta = diffTables(Dictionary(uniqueKeysWithValues: current.map { ($0.id, $0) }), after.tables)
            try nft.apply(delta, definitions: NFTConnection.definitions(of: current))
            return (Dictionary(uniqueKeysWithValues: try nft.read(Dataplane.tables).map { ($0.id, $0) }), delta)
        }
        #expect(observed == after.tables)
        #expect(!operations.isEmpty)
        #expect(!operations.contains { if case .addTable = $0 { true } else { false } }, "a port removal must not rebuild a table")

        let text = try TestNamespace("inc-text")
        _ = try text.exec("nft", ["-f", "-"], stdin: NFTRenderer.ruleset(after.tables.values))
        #expect(try ns.nftList() == text.nftList())
    }

    @Test("the ruleset generation is the one nft monitor reports for each commit, ours and another tool's")
    func generationCountsEveryCommit() throws {
        let state = try #require(Self.cases.first { !$0.state.tables.isEmpty }).state
        let ns = try TestNamespace("gen")
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        monitor.arguments = ["netns", "exec", ns.name, "nft", "monitor"]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns.name).monitor")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        monitor.standardOutput = try FileHandle(forWritingTo: log)
        try monitor.run()
        // SIGKILL: children of the test process inherit its blocked SIGTERM.
        defer {
            kill(monitor.processIdentifier, SIGKILL)
            monitor.waitUntilExit()
        }
        func seen() -> String { String(decoding: FileManager.default.contents(atPath: log.path) ?? Data(), as: UTF8.self) }
        func waitFor(_ text: String) -> Bool {
            for _ in 0..<300 {
                if seen().contains(text) { return true }
                usleep(20_000)
            }
            return false
        }
        // The monitor is listening once it reports a table added after it started.
        var listening = false
        for attempt in 0..<20 where !listening {
            _ = try ns.exec("nft", ["add", "table", "inet", "ready\(attempt)"])
            listening = waitFor("add table inet ready\(attempt)")
        }
        try #require(listening, "nft monitor did not start")

        let (before, written, after) = try ns.run { () throws -> (UInt32, UInt32, UInt32) in
            let nft = try NFTConnection()
            let before = try nft.generation()
            let written = try nft.apply(diff(HostState(), state).nft)
            return (before, written, try nft.generation())
        }
        #expect(written == before &+ 1)
        #expect(after == written, "nothing committed after our batch")
        #expect(waitFor("# new generation \(written) by process"), "nft monitor: \(seen())")

        _ = try ns.exec("nft", ["add", "table", "inet", "other"])
        #expect(waitFor("# new generation \(written &+ 1) by process"))
        #expect(try ns.run { try NFTConnection().generation() } == written &+ 1)
    }

    @Test("a failing batch changes nothing and names the operation that failed")
    func failedBatchIsAtomic() throws {
        let state = try #require(Self.cases.first { !$0.state.tables.isEmpty }).state
        let ns = try TestNamespace("atomic")
        try ns.run { try NFTConnection().apply(diff(HostState(), state).nft) }
        let before = try ns.nftList()
        let table = NFTTableID(.inet, Naming.table)
        let operations: [NFTOperation] = [
            .addSet(table, NFTSet(name: "fresh", key: [.ipv4Addr], interval: true, elements: [NFTElement([.address(IPRange(IPPrefix("10.9.0.0/16")!))])])),
            .replaceRules(table, chain: "always-egress", [NFTRule(verdict: .drop)]),
            .deleteChain(table, name: "no-such-chain"),
        ]
        let error = try ns.run { () throws -> NetlinkError? in
            do {
                try NFTConnection().apply(operations)
                return nil
            } catch let error as NetlinkError {
                return error
            }
        }
        let failure = try #require(error, "the batch should have failed")
        #expect(failure.operation == "delete chain no-such-chain of inet secgroups")
        #expect(failure.errno == ENOENT)
        #expect(try ns.nftList() == before, "the ruleset changed although the batch failed")
    }

    @Test("foreign tables in the same namespace survive our writes and deletes untouched")
    func foreignTablesSurvive() throws {
        let state = try #require(Self.cases.first { !$0.state.tables.isEmpty }).state
        let ns = try TestNamespace("foreign")
        let foreign = """
            table inet secgroups_other {
            	set s { type ipv4_addr; elements = { 10.1.1.1 }; }
            	chain input { type filter hook input priority 0; policy accept; ip saddr @s counter accept; }
            }
            table bridge filter {
            	chain forward { type filter hook forward priority 0; policy accept; counter; }
            }
            table ip nat {
            	chain post { type nat hook postrouting priority 100; policy accept; masquerade; }
            }

            """
        let load = try ns.exec("nft", ["-f", "-"], stdin: foreign)
        try #require(load.status == 0, "\(load.stderr)")
        let listForeign = { () throws -> String in
            try ["inet secgroups_other", "bridge filter", "ip nat"].map { try ns.nftList(["list", "table"] + $0.split(separator: " ").map(String.init)) }
                .joined()
        }
        let before = try listForeign()
        try ns.run {
            let nft = try NFTConnection()
            try nft.apply(diff(HostState(), state).nft)
            #expect(try nft.read(Dataplane.tables).count == state.tables.count)
            try nft.apply(diff(state, HostState()).nft)
            #expect(try nft.read(Dataplane.tables).isEmpty)
        }
        #expect(try listForeign() == before)
    }
}

let isRoot = getuid() == 0

enum Dataplane {
    static let tables = [NFTTableID(.bridge, Naming.table), NFTTableID(.inet, Naming.table)]
}
