import Netlink
import Testing

/// Deleting conntrack entries by zone, checked with the stock `conntrack` tool.
@Suite(.enabled(if: KernelAccess.available, KernelAccess.reason))
struct ConntrackTests {
    /// Loopback pings tracked in zone 7 and in zone 9 (by destination).
    func namespaceWithTrackedFlows() throws -> TestNamespace {
        let ns = try TestNamespace("ct")
        let rules = """
            table inet t {
              chain out { type filter hook output priority raw; ip daddr 127.0.0.7 ct zone set 7; ip daddr 127.0.0.9 ct zone set 9; }
              chain pre { type filter hook prerouting priority raw; ip saddr 127.0.0.7 ct zone set 7; ip saddr 127.0.0.9 ct zone set 9; }
            }
            """
        let loaded = try ns.exec("nft", ["-f", "-"], stdin: rules)
        try #require(loaded.status == 0, "\(loaded.stderr)")
        for address in ["127.0.0.7", "127.0.0.9"] {
            _ = try ns.exec("ping", ["-c", "1", "-W", "1", address])
        }
        return ns
    }

    func entries(_ ns: TestNamespace, zone: Int) throws -> Int {
        let listed = try ns.exec("conntrack", ["-L", "-w", "\(zone)"])
        return listed.stdout.split(separator: "\n").filter { $0.contains("zone=\(zone)") }.count
    }

    @Test func deletesOnlyTheGivenZones() throws {
        let ns = try namespaceWithTrackedFlows()
        #expect(try entries(ns, zone: 7) >= 1)
        #expect(try entries(ns, zone: 9) >= 1)
        let deleted = try ns.run { try ConntrackConnection().deleteEntries(zones: [7]) }
        #expect(deleted >= 1)
        #expect(try entries(ns, zone: 7) == 0)
        #expect(try entries(ns, zone: 9) >= 1)
    }

    @Test func noZonesDeletesNothing() throws {
        let ns = try namespaceWithTrackedFlows()
        #expect(try ns.run { try ConntrackConnection().deleteEntries(zones: []) } == 0)
        #expect(try entries(ns, zone: 7) >= 1)
    }
}
