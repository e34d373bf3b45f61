import Foundation
import Netlink
import Testing

/// NFLOG subscriptions against the kernel, each in a namespace of its own:
/// packets logged by an nft `log group` rule, read back with what the rule
/// and the hook said about them.
@Suite(.enabled(if: KernelAccess.available, KernelAccess.reason))
struct NFLogConnectionTests {
    /// A namespace with a veth device `sgt0` (192.0.2.1/24; this kernel has
    /// no dummy driver) and a rule
    /// logging UDP to port 9 as it leaves: the device exists only there, so
    /// its name proves devices are named in the socket's namespace.
    func namespaceLoggingUDP(group: Int = 2718) throws -> TestNamespace {
        let ns = try TestNamespace("nflog")
        for argv in [["link", "add", "sgt0", "type", "veth", "peer", "name", "sgt1"], ["addr", "add", "192.0.2.1/24", "dev", "sgt0"], ["link", "set", "sgt1", "up"], ["link", "set", "sgt0", "up"]] {
            let done = try Shell.run("ip", ["-n", ns.name] + argv)
            try #require(done.status == 0, "\(argv): \(done.stderr)")
        }
        let rules = """
            table inet t {
              chain out { type filter hook output priority 0; udp dport 9 log prefix "sg drop egress p1" group \(group); }
            }
            """
        let loaded = try ns.exec("nft", ["-f", "-"], stdin: rules)
        try #require(loaded.status == 0, "\(loaded.stderr)")
        return ns
    }

    func sendUDP(_ ns: TestNamespace, bytes: Int) throws {
        let script = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 40001)); s.sendto(b'x' * \(bytes), ('192.0.2.2', 9))"
        let sent = try ns.exec("python3", ["-c", script])
        try #require(sent.status == 0, "\(sent.stderr)")
    }

    /// Reads until a packet comes or `limit` passes.
    func firstPacket(_ connection: NFLogConnection, within limit: Duration = .seconds(3)) throws -> LoggedPacket? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let packet = try connection.receive(timeout: .milliseconds(200)).first { return packet }
        }
        return nil
    }

    @Test func aLoggedPacketArrivesWithItsPrefixHookDeviceAndFirstBytes() throws {
        let ns = try namespaceLoggingUDP()
        let connection = try ns.run { try NFLogConnection(group: 2718) }
        try sendUDP(ns, bytes: 1000)
        let packet = try #require(try firstPacket(connection))
        #expect(packet.group == 2718)
        #expect(packet.prefix == "sg drop egress p1")
        #expect(packet.hookName == "output")
        #expect(packet.networkFamily == .ipv4)
        #expect(packet.outDevice == "sgt0" && packet.inDevice == nil)
        // Cut at the copy range; the header says what it is.
        #expect(packet.payload.count == 256)
        #expect(packet.payload.first == 0x45 && packet.payload[9] == 17)
        #expect(Array(packet.payload[16..<20]) == [192, 0, 2, 2])
        #expect(abs(packet.time.timeIntervalSinceNow) < 10)
    }

    @Test func aGroupHasOneReaderAndIsFreeAgainWhenItIsReleased() throws {
        let ns = try namespaceLoggingUDP()
        var first: NFLogConnection? = try ns.run { try NFLogConnection(group: 2718) }
        // The kernel checks the owner before the command: EPERM, not EBUSY.
        do {
            _ = try ns.run { try NFLogConnection(group: 2718) }
            Issue.record("a second socket bound group 2718")
        } catch let error as NetlinkError {
            #expect(error.errno == EPERM && error.operation == "bind NFLOG group 2718", "\(error)")
        }
        // Another group is another instance.
        _ = try ns.run { try NFLogConnection(group: 2719) }
        #expect(first != nil)
        first = nil
        let again = try ns.run { try NFLogConnection(group: 2718) }
        try sendUDP(ns, bytes: 10)
        #expect(try firstPacket(again)?.prefix == "sg drop egress p1")
    }

    @Test func receiveReturnsNothingWhenTheTimeRunsOut() throws {
        let ns = try namespaceLoggingUDP()
        let connection = try ns.run { try NFLogConnection(group: 2718) }
        let start = ContinuousClock.now
        #expect(try connection.receive(timeout: .milliseconds(100)).isEmpty)
        let waited = ContinuousClock.now - start
        #expect(waited >= .milliseconds(90) && waited < .seconds(2), "\(waited)")
    }
}
