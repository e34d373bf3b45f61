import Testing

@testable import Netlink

/// `LinkEvents` against the kernel: what `ip link add` and `ip link del`
/// in the namespace announce.
@Suite(.enabled(if: KernelAccess.available, KernelAccess.reason), .timeLimit(.minutes(1)))
struct LinkEventsTests {
    @Test func announcesDevicesAppearingAndGoing() async throws {
        let ns = try TestNamespace("events")
        let events = try ns.run { try LinkEvents.subscribe() }
        for command in ["add sgt-e0 type veth peer name sgt-e1", "del sgt-e0"] {
            let result = try ns.exec("ip", ["link"] + command.split(separator: " ").map(String.init))
            #expect(result.status == 0, "ip link \(command): \(result.stderr)")
        }
        var seen: [LinkEvent] = []
        for await event in events {
            seen.append(event)
            if seen.contains(.removed(device: "sgt-e0")) { break }
        }
        #expect(seen.contains(.changed(device: "sgt-e0")))
        #expect(seen.contains(.removed(device: "sgt-e0")))
    }
}
