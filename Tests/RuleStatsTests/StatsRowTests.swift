import Dataplane
import HostModel
import PolicyCompiler
import PolicyModel
import RuleStats
import Testing

/// Counters as rows named the way the policy names them: read from a
/// compiled state (through the memory kernel, which reads them as the real
/// one does, with zeros), then given values.
@Suite struct StatsRowTests {
    static let policy: Policy = {
        let json = """
            {"version": 1,
             "networks": [{"name": "blue", "segment": {"type": "vxlan", "vni": 5001}, "subnets": ["10.0.0.0/24", "fd00::/64"]}],
             "hosts": [{"name": "hv1"}],
             "securityGroups": [
               {"name": "web", "rules": [
                 {"direction": "ingress", "protocol": "tcp", "ports": "80", "description": "http"},
                 {"direction": "egress"}]},
               {"name": "db", "rules": [{"direction": "ingress", "protocol": "tcp", "ports": "5432", "remote": {"group": "web"}}]}],
             "ports": [
               {"name": "vm1", "host": "hv1", "device": "tap-vm1", "network": "blue", "mac": "52:54:00:00:00:01",
                "ips": ["10.0.0.1"], "securityGroups": ["web"]},
               {"name": "vm2", "host": "hv1", "device": "tap-vm2", "network": "blue", "mac": "52:54:00:00:00:02",
                "ips": ["10.0.0.2"], "securityGroups": ["db"], "log": true}]}
            """
        guard case .success(let policy) = PolicyDecoder.decode(json: Array(json.utf8)) else { fatalError("fixture policy is invalid") }
        return policy
    }()

    static func counters(_ values: (NFTRuleCounter) -> (UInt64, UInt64) = { _ in (0, 0) }) throws -> [NFTRuleCounter] {
        let state = try PolicyCompiler(policy).compile(host: "hv1")
        return try MemoryKernel(state: state).readCounters(Dataplane.ownedTables).map { counter in
            var counter = counter
            (counter.packets, counter.bytes) = values(counter)
            return counter
        }
    }

    @Test func everyGroupRulePortDropInvalidCheckAndPortSecurityCheckHasARow() throws {
        let rows = StatsRow.rows(from: try Self.counters())
        let rules = rows.filter { $0.kind == .rule }
        #expect(rules.map { "\($0.groups[0]) \($0.direction!.rawValue) \($0.rule!) \($0.description ?? "-")" } == [
            "db ingress 0 -", "web egress 1 -", "web ingress 0 http",
        ])
        let drops = rows.filter { $0.kind == .defaultDrop }
        #expect(drops.map { "\($0.port!) \($0.device!) \($0.direction!.rawValue)" } == [
            "vm1 tap-vm1 egress", "vm1 tap-vm1 ingress", "vm2 tap-vm2 egress", "vm2 tap-vm2 ingress",
        ])
        #expect(rows.filter { $0.kind == .invalid }.map { "\($0.groups) \($0.direction!.rawValue)" } == [
            "[\"db\"] egress", "[\"db\"] ingress", "[\"web\"] egress", "[\"web\"] ingress",
        ])
        let checks = Set(rows.filter { $0.kind == .portSecurity }.compactMap(\.description))
        #expect(checks.isSuperset(of: ["source MAC not the port's", "IPv4 source not the port's", "router advertisement or redirect"]))
    }

    @Test func aRuleOfBothFamiliesIsOneRowWithBothCountersAddedUp() throws {
        // "web egress 1" is one nft rule per family; give each its own values.
        let counters = try Self.counters { counter in
            guard counter.chain == "sg/web/egress" else { return (0, 0) }
            return counter.position == 0 ? (3, 300) : (4, 500)
        }
        #expect(counters.filter { $0.chain == "sg/web/egress" }.count == 2)
        let row = try #require(StatsRow.rows(from: counters).first { $0.kind == .rule && $0.groups == ["web"] && $0.direction == .egress })
        #expect((row.packets, row.bytes) == (7, 800))
    }

    @Test func filtersKeepAPortsDropsAGroupsRulesOrEither() throws {
        let rows = StatsRow.rows(from: try Self.counters())
        let byPort = rows.filter(StatsFilter(port: "vm2").keeps)
        #expect(byPort.map(\.kind) == [.defaultDrop, .defaultDrop] && byPort.allSatisfy { $0.port == "vm2" })
        #expect(rows.filter(StatsFilter(port: "tap-vm2").keeps) == byPort)
        let byGroup = rows.filter(StatsFilter(group: "web").keeps)
        #expect(Set(byGroup.map(\.kind)) == [.rule, .invalid] && byGroup.allSatisfy { $0.groups == ["web"] })
        #expect(rows.filter(StatsFilter(port: "vm2", group: "web").keeps).count == byPort.count + byGroup.count)
        #expect(rows.filter(StatsFilter(port: "nosuch").keeps).isEmpty)
    }

    @Test func countersOfChainsTheCompilerDidNotWriteAreLeftOut() {
        let foreign = NFTRuleCounter(table: NFTTableID(.inet, Naming.table), chain: "mine", position: 0, packets: 9, bytes: 9)
        let handMade = NFTRuleCounter(
            table: NFTTableID(.inet, Naming.table), chain: "sg/web/ingress", position: 5, ruleComment: "added by hand", packets: 1, bytes: 1)
        #expect(StatsRow.rows(from: [foreign, handMade]).isEmpty)
    }

    @Test func textIsAlignedWithNumbersOnTheRight() throws {
        let rows = StatsRow.rows(from: try Self.counters { $0.chain == "port/tap-vm1/ingress" ? (12345, 678) : (0, 0) })
            .filter(StatsFilter(port: "vm1", group: "db").keeps)
        #expect(StatsText.render(rows) == [
            "direction  group  rule  port           packets  bytes  what",
            "ingress    db     0                          0      0  accepted",
            "egress                  vm1 (tap-vm1)        0      0  dropped: no rule of its groups allows it",
            "ingress                 vm1 (tap-vm1)    12345    678  dropped: no rule of its groups allows it",
            "egress     db                                0      0  dropped as invalid by conntrack",
            "ingress    db                                0      0  dropped as invalid by conntrack",
        ])
    }

    @Test func prometheusTextHasOneFamilyPerKindWithLabelsEscaped() throws {
        let rows = [
            StatsRow(kind: .rule, direction: .ingress, groups: ["web"], rule: 0, description: #"say "hi"\now"#, packets: 5, bytes: 50),
            StatsRow(kind: .defaultDrop, direction: .egress, port: "vm1", device: "tap-vm1", packets: 2, bytes: 20),
        ]
        #expect(PrometheusText.render(rows) == """
            # HELP sgd_rule_packets_total Packets a security-group rule accepted, for all of the group's ports on this host.
            # TYPE sgd_rule_packets_total counter
            sgd_rule_packets_total{group="web",rule="0",direction="ingress",description="say \\"hi\\"\\\\now"} 5
            # HELP sgd_rule_bytes_total Bytes a security-group rule accepted, for all of the group's ports on this host.
            # TYPE sgd_rule_bytes_total counter
            sgd_rule_bytes_total{group="web",rule="0",direction="ingress",description="say \\"hi\\"\\\\now"} 50
            # HELP sgd_port_dropped_packets_total Packets of a port that no rule of its groups allowed.
            # TYPE sgd_port_dropped_packets_total counter
            sgd_port_dropped_packets_total{port="vm1",device="tap-vm1",direction="egress"} 2
            # HELP sgd_port_dropped_bytes_total Bytes of a port that no rule of its groups allowed.
            # TYPE sgd_port_dropped_bytes_total counter
            sgd_port_dropped_bytes_total{port="vm1",device="tap-vm1",direction="egress"} 20

            """)
    }
}
