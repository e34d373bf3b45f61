import Controller
@testable import Distribution
import HostModel
import PolicyCompiler
import PolicyModel
import SyntheticCloud
import Testing

/// A host's state as one etcd key per object: written from nothing and
/// read back it is the same state; the writes between two states turn
/// the keys of one into the keys of the other, and only touch what differs.
@Suite struct HostObjectsTests {
    static func cloud(seed: UInt64) throws -> (Policy, Controller) {
        let policy = SyntheticCloud.generate(CloudShape(hosts: 3, ports: 120, groups: 12, networks: 4, seed: seed))
        return (policy, try Controller(policy: policy))
    }

    /// Applies writes to a map of keys as etcd would, refusing what etcd
    /// refuses in one transaction (a key named twice, or put inside a
    /// deleted range) and writes that change nothing (a put of the value
    /// already there, a delete of a missing key).
    static func apply(_ writes: [ObjectWrite], to keys: inout [String: [UInt8]]) {
        var named = Set<String>()
        let deletedPrefixes = writes.compactMap { if case .deletePrefix(let p) = $0 { p } else { nil } }
        for write in writes {
            switch write {
            case .put(let path, let value):
                #expect(named.insert(path).inserted, "\(path) named twice")
                #expect(!deletedPrefixes.contains { path.hasPrefix($0) }, "\(path) put inside a deleted range")
                #expect(keys[path] != value, "\(path) put with the value it has")
                keys[path] = value
            case .delete(let path):
                #expect(named.insert(path).inserted, "\(path) named twice")
                #expect(keys[path] != nil, "\(path) deleted but absent")
                keys[path] = nil
            case .deletePrefix(let prefix):
                for key in keys.keys where key.hasPrefix(prefix) { keys[key] = nil }
            }
        }
    }

    static func assembled(_ keys: [String: [UInt8]]) -> HostState? {
        var assembler = HostAssembler()
        for (path, value) in keys { assembler.put(path, value) }
        return try? assembler.state().get()
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func everyHostReadsBackAsItsState(seed: UInt64) throws {
        let (policy, controller) = try Self.cloud(seed: seed)
        for host in policy.hosts.map(\.name) {
            let state = controller.state(of: host)
            var keys: [String: [UInt8]] = [:]
            Self.apply(try ObjectWrites.all(state), to: &keys)
            #expect(keys.count > 100, "a host of 40 ports has more than 100 objects")
            #expect(Self.assembled(keys) == state, "host \(host)")
        }
    }

    @Test(arguments: Array(1...12))
    func writesBetweenStatesTurnOneIntoTheOther(seed: Int) throws {
        let (policy, controller) = try Self.cloud(seed: UInt64(seed))
        var rng = SplitMix64(seed: UInt64(seed) &* 7919)
        var keys: [String: [String: [UInt8]]] = [:]
        for host in policy.hosts.map(\.name) { Self.apply(try ObjectWrites.all(controller.state(of: host)), to: &keys[host, default: [:]]) }
        for step in 0..<20 {
            var new = controller.policy
            PolicyMutator.mutate(&new, using: &rng)
            guard case .success(let valid) = PolicyDecoder.decode(PolicyEncoder.encode(new)) else { continue }
            let before = Dictionary(uniqueKeysWithValues: valid.hosts.map { ($0.name, controller.state(of: $0.name)) })
            let result = controller.update(to: valid)
            for host in result.hosts {
                let writes = try ObjectWrites.between(before[host] ?? HostState(), controller.state(of: host))
                #expect(!writes.isEmpty, "step \(step): host \(host) changed but no writes")
                Self.apply(writes, to: &keys[host, default: [:]])
                #expect(Self.assembled(keys[host]!) == controller.state(of: host), "step \(step): host \(host)")
            }
        }
    }

    @Test func aMapElementWhoseDataChangesIsOnePut() throws {
        let table = NFTTableID(.inet, "secgroups")
        func state(mark: UInt32) -> HostState {
            HostState(tables: [NFTTable(id: table, sets: [
                NFTSet(name: "port_marks", key: [.ifname], data: .mark, elements: [NFTElement([.ifname("tap-a")], data: .mark(mark))]),
            ])])
        }
        let writes = try ObjectWrites.between(state(mark: 1), state(mark: 2))
        #expect(writes.count == 1)
        guard case .put(let path, _)? = writes.first else { Issue.record("expected a put, got \(writes)"); return }
        #expect(path == "elements/inet/secgroups/port_marks/tap-a")
        var keys: [String: [UInt8]] = [:]
        Self.apply(try ObjectWrites.all(state(mark: 1)), to: &keys)
        Self.apply(writes, to: &keys)
        #expect(Self.assembled(keys) == state(mark: 2))
    }

    @Test func namesWithSlashesAndPercentsRoundTrip() {
        let table = NFTTableID(.inet, "secgroups")
        let keys: [ObjectKey] = [
            .chain(table, "profile/web/db/ingress"), .set(table, "remote/a%2Fb/ipv4"),
            .element(table, set: "remote/web/ipv4", text: "10.0.0.0/24"), .port("tap-x"), .meta, .links, .table(table),
        ]
        for key in keys { #expect(ObjectKey(path: key.path) == key, "\(key.path)") }
        #expect(ObjectKey(path: "chains/inet/secgroups") == nil)
        #expect(ObjectKey(path: "chains/ip/secgroups/x") == nil, "not a family of ours")
    }

    @Test func unreadableAndOrphanedKeysAreNamed() throws {
        var assembler = HostAssembler()
        assembler.put("chains/inet/secgroups/sg%2Fweb%2Fingress", Array("{not json".utf8))
        assembler.put("sets/bridge/secgroups/our_ports", try RecordCoding.encode(SetDefinition(name: "our_ports", definition: .init(key: [.ifname]))))
        guard case .failure(let problems) = assembler.state() else { Issue.record("garbage assembled into a state"); return }
        #expect(problems.problems.contains { $0.hasPrefix("chains/inet/secgroups/sg%2Fweb%2Fingress: ") })
        #expect(problems.problems.contains("objects of table bridge secgroups without the table's key"))
        assembler.delete("chains/inet/secgroups/sg%2Fweb%2Fingress")
        assembler.put("tables/bridge/secgroups", Array("{}".utf8))
        #expect(try assembler.state().get().tables[NFTTableID(.bridge, "secgroups")]?.sets["our_ports"] != nil)
    }
}
