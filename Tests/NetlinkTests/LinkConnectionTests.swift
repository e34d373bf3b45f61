import Foundation
import HostModel
import PolicyModel
import Testing

@testable import Netlink

#if canImport(Glibc)
import Glibc
#endif

/// A namespace with an underlay (`sgt-u0`, 192.0.2.1/24, up), two VM-like
/// veth ends (`tap0` up, `tap1` down) and a connection bound to it. The
/// stock `ip` and `bridge` inside it are the independent readers.
struct LinkFixture {
    let ns: TestNamespace
    let links: LinkConnection

    init(_ label: String) throws {
        let ns = try TestNamespace(label)
        links = try ns.run { try LinkConnection() }
        self.ns = ns
        for command in [
            "link add sgt-u0 type veth peer name sgt-u1", "addr add 192.0.2.1/24 dev sgt-u0", "link set sgt-u0 up",
            "link set sgt-u1 up", "link add tap0 type veth peer name tap0p", "link set tap0 up", "link set tap0p up",
            "link add tap1 type veth peer name tap1p",
        ] {
            try sh("ip " + command)
        }
    }

    /// Runs a command in the namespace; it must succeed. Returns its output.
    @discardableResult
    func sh(_ command: String) throws -> String {
        let words = command.split(separator: " ").map(String.init)
        let result = try ns.exec(words[0], Array(words.dropFirst()))
        guard result.status == 0 else { throw ShellError(command: command, output: result.stderr) }
        return result.stdout
    }

    /// Whether `ip link show NAME` finds the device.
    func exists(_ name: String) throws -> Bool { try ns.exec("ip", ["link", "show", name]).status == 0 }

    /// The flags between `<` and `>` of `ip link show NAME`.
    func flags(_ name: String) throws -> Set<String> {
        let text = try sh("ip link show \(name)")
        guard let open = text.firstIndex(of: "<"), let close = text.firstIndex(of: ">") else { return [] }
        return Set(text[text.index(after: open)..<close].split(separator: ",").map(String.init))
    }

    /// `ip -d link show NAME` without its running timers (`gc_timer 299.78`).
    func details(_ name: String) throws -> String {
        try sh("ip -d link show \(name)").replacing(/\S+_timer +[0-9.]+/, with: "")
    }

    /// The all-zero (flood) lines of `bridge fdb show dev NAME`, sorted.
    func floodLines(_ device: String) throws -> [String] {
        try sh("bridge fdb show dev \(device)").split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix("00:00:00:00:00:00") }.sorted()
    }

    func read() throws -> LinkState {
        try links.read(bridgePrefix: "sgbr-", vxlanPrefix: "sgvx-", trunkDevices: ["sgt-trunk"])
    }

    func apply(_ operations: [LinkOperation]) throws {
        for operation in operations { try links.apply(operation) }
    }

    static let remote1 = IPAddress("198.51.100.1")!
    static let remote2 = IPAddress("198.51.100.2")!

    /// Test 1's state: a plain bridge, a VXLAN device on it with two flood
    /// entries, two ports.
    static let desired = LinkState(
        bridges: ["sgbr-100": Bridge(name: "sgbr-100", vlanFiltering: false)],
        vxlans: [
            "sgvx-100": VXLANDevice(
                name: "sgvx-100", vni: 100, local: IPAddress("192.0.2.1"), underlay: "sgt-u0", port: 4789,
                bridge: "sgbr-100")
        ],
        floods: [FloodEntry(device: "sgvx-100", remote: remote1), FloodEntry(device: "sgvx-100", remote: remote2)],
        ports: ["tap0": BridgePort(bridge: "sgbr-100"), "tap1": BridgePort(bridge: "sgbr-100")])

    static let build: [LinkOperation] = [
        .addBridge(desired.bridges["sgbr-100"]!),
        .addVXLAN(desired.vxlans["sgvx-100"]!),
        .addFlood(FloodEntry(device: "sgvx-100", remote: remote1)),
        .addFlood(FloodEntry(device: "sgvx-100", remote: remote2)),
        .attachPort(device: "tap0", BridgePort(bridge: "sgbr-100")),
        .attachPort(device: "tap1", BridgePort(bridge: "sgbr-100")),
    ]
}

@Suite(.enabled(if: KernelAccess.available, KernelAccess.reason))
struct LinkConnectionTests {
    // 1.
    @Test func buildsBridgeVXLANFloodsAndPortsAndReadsThemBack() throws {
        let f = try LinkFixture("lk-add")
        try f.apply(LinkFixture.build)

        let bridge = try f.sh("ip -d link show sgbr-100")
        #expect(bridge.contains("bridge forward_delay"))
        #expect(bridge.contains("vlan_filtering 0"))
        #expect(try f.flags("sgbr-100").contains("UP"))

        let vxlan = try f.sh("ip -d link show sgvx-100")
        #expect(vxlan.contains("vxlan id 100 local 192.0.2.1 dev sgt-u0 "), "\(vxlan)")
        #expect(vxlan.contains(" dstport 4789 "))
        #expect(vxlan.contains("master sgbr-100"))
        #expect(try f.flags("sgvx-100").contains("UP"))

        #expect(
            try f.floodLines("sgvx-100") == [
                "00:00:00:00:00:00 dst 198.51.100.1 self permanent",
                "00:00:00:00:00:00 dst 198.51.100.2 self permanent",
            ])

        // Ports are on the bridge, their up/down state untouched.
        #expect(try f.sh("ip link show tap0").contains("master sgbr-100"))
        #expect(try f.sh("ip link show tap1").contains("master sgbr-100"))
        #expect(try f.flags("tap0").contains("UP"))
        #expect(try !f.flags("tap1").contains("UP"))

        let read = try f.read()
        #expect(read == LinkFixture.desired)
        #expect(diff(HostState(links: read), HostState(links: LinkFixture.desired)).isEmpty)
    }

    // 2.
    @Test func detachAndDeleteUndoItStepByStep() throws {
        let f = try LinkFixture("lk-del")
        try f.apply(LinkFixture.build)
        var expected = LinkFixture.desired

        try f.links.apply(.detachPort(device: "tap1"))
        expected.ports["tap1"] = nil
        #expect(try f.read() == expected)
        #expect(try !f.sh("ip link show tap1").contains("master"))
        #expect(try !f.flags("tap1").contains("UP"))

        try f.links.apply(.deleteFlood(FloodEntry(device: "sgvx-100", remote: LinkFixture.remote2)))
        expected.floods.remove(FloodEntry(device: "sgvx-100", remote: LinkFixture.remote2))
        #expect(try f.read() == expected)
        #expect(try f.floodLines("sgvx-100") == ["00:00:00:00:00:00 dst 198.51.100.1 self permanent"])

        try f.links.apply(.detachPort(device: "tap0"))
        expected.ports = [:]
        #expect(try f.read() == expected)
        #expect(try !f.sh("ip link show tap0").contains("master"))
        #expect(try f.flags("tap0").contains("UP"), "detaching must not take the VM's device down")

        try f.apply([.deleteFlood(FloodEntry(device: "sgvx-100", remote: LinkFixture.remote1)), .deleteVXLAN("sgvx-100")])
        expected.floods = []
        expected.vxlans = [:]
        #expect(try f.read() == expected)
        #expect(try !f.exists("sgvx-100"))

        try f.links.apply(.deleteBridge("sgbr-100"))
        #expect(try f.read() == LinkState())
        #expect(try !f.exists("sgbr-100"))
        #expect(try f.exists("sgt-u0") && f.exists("tap0") && f.exists("tap1"), "devices we didn't create stay")
    }

    @Test func theDiffTakesItThereAndBack() throws {
        let f = try LinkFixture("lk-diff")
        try f.apply(diff(HostState(links: try f.read()), HostState(links: LinkFixture.desired)).links)
        #expect(try f.read() == LinkFixture.desired)
        try f.apply(diff(HostState(links: try f.read()), HostState(links: LinkState())).links)
        #expect(try f.read() == LinkState())
    }

    @Test func ipv6VXLANWithoutUnderlay() throws {
        let f = try LinkFixture("lk-v6")
        let device = VXLANDevice(
            name: "sgvx-6", vni: 6, local: IPAddress("2001:db8::1"), underlay: nil, port: 4790, bridge: "sgbr-6")
        let flood = FloodEntry(device: "sgvx-6", remote: IPAddress("2001:db8::2")!)
        try f.apply([.addBridge(Bridge(name: "sgbr-6", vlanFiltering: false)), .addVXLAN(device), .addFlood(flood)])
        #expect(try f.sh("ip -d link show sgvx-6").contains("vxlan id 6 local 2001:db8::1 srcport"))
        #expect(try f.floodLines("sgvx-6") == ["00:00:00:00:00:00 dst 2001:db8::2 self permanent"])
        #expect(
            try f.read()
                == LinkState(
                    bridges: ["sgbr-6": Bridge(name: "sgbr-6", vlanFiltering: false)], vxlans: ["sgvx-6": device],
                    floods: [flood]))
    }

    @Test func repeatedAppendIsHarmlessAndErrorsNameTheObject() throws {
        let f = try LinkFixture("lk-err")
        try f.apply(LinkFixture.build)
        try f.links.apply(.addFlood(FloodEntry(device: "sgvx-100", remote: LinkFixture.remote1)))
        #expect(try f.floodLines("sgvx-100").count == 2)

        let exists = #expect(throws: NetlinkError.self) { try f.links.apply(.addBridge(Bridge(name: "sgbr-100", vlanFiltering: false))) }
        #expect(exists?.errno == EEXIST)
        #expect(exists?.description.hasPrefix("add bridge sgbr-100: File exists") == true, "\(String(describing: exists))")

        let noBridge = #expect(throws: NetlinkError.self) {
            try f.links.apply(.attachPort(device: "tap0", BridgePort(bridge: "sgbr-none")))
        }
        #expect(noBridge?.errno == ENODEV)
        #expect(noBridge?.operation == "attach port tap0 to bridge sgbr-none (no device sgbr-none)")

        let noPort = #expect(throws: NetlinkError.self) {
            try f.links.apply(.attachPort(device: "tap-gone", BridgePort(bridge: "sgbr-100")))
        }
        #expect(noPort?.operation == "attach port tap-gone to bridge sgbr-100 (no device tap-gone)")

        // The kernel (6.18) treats a remote missing from an existing flood
        // list as deleted already; only a device without any all-zero entry
        // answers ENOENT.
        try f.links.apply(.deleteFlood(FloodEntry(device: "sgvx-100", remote: IPAddress("203.0.113.1")!)))
        #expect(try f.floodLines("sgvx-100").count == 2)
        try f.apply(LinkFixture.desired.floods.map { .deleteFlood($0) })
        let gone = #expect(throws: NetlinkError.self) {
            try f.links.apply(.deleteFlood(FloodEntry(device: "sgvx-100", remote: LinkFixture.remote1)))
        }
        #expect(gone?.errno == ENOENT)
        #expect(gone?.operation == "delete flood entry dev sgvx-100 dst 198.51.100.1")
        try f.apply(LinkFixture.desired.floods.map { .addFlood($0) })

        let pvid = #expect(throws: NetlinkError.self) {
            try f.links.apply(.attachPort(device: "tap0", BridgePort(bridge: "sgbr-100", pvid: 10)))
        }
        #expect(pvid?.errno == EINVAL)
        #expect(try f.read() == LinkFixture.desired, "failed operations changed nothing")
    }

    // 3.
    @Test func vlanFilteringAndProbeMatchWhatIPSees() throws {
        let f = try LinkFixture("lk-cap")
        // The independent answer: does stock `ip` get these from this kernel?
        let ipFiltering = try f.ns.exec("ip", ["link", "add", "sgt-vf", "type", "bridge", "vlan_filtering", "1"]).status == 0
        let ipVLAN = try f.ns.exec("ip", ["link", "add", "link", "sgt-u0", "name", "sgt-q", "type", "vlan", "id", "2"]).status == 0
        _ = try f.ns.exec("ip", ["link", "del", "sgt-vf"])
        _ = try f.ns.exec("ip", ["link", "del", "sgt-q"])

        let before = try f.sh("ip -o link show")
        let capabilities = f.links.probe()
        #expect(try f.sh("ip -o link show") == before, "probe leaves no device behind")
        #expect(capabilities.bridge)
        #expect(capabilities.vxlan)
        #expect(capabilities.vlanFiltering == ipFiltering, "\(capabilities.notes)")
        #expect(capabilities.vlanDevices == ipVLAN, "\(capabilities.notes)")
        if !ipVLAN {
            #expect(capabilities.notes.contains { $0.hasPrefix("802.1Q devices: add vlan sgpq-") && $0.contains("Operation not supported") })
        }

        let vlanBridge = Bridge(name: "sgbr-vlan", vlanFiltering: true)
        if ipFiltering {
            try f.links.apply(.addBridge(vlanBridge))
            #expect(try f.sh("ip -d link show sgbr-vlan").contains("vlan_filtering 1"))
            #expect(try f.read().bridges == ["sgbr-vlan": vlanBridge])
        } else {
            // This kernel (6.18, no CONFIG_BRIDGE_VLAN_FILTERING).
            #expect(capabilities.notes.contains { $0.hasPrefix("bridge VLAN filtering: add bridge sgpf-") })
            let error = #expect(throws: NetlinkError.self) { try f.links.apply(.addBridge(vlanBridge)) }
            #expect(error?.errno == EOPNOTSUPP)
            #expect(error?.description.hasPrefix("add bridge sgbr-vlan with vlan_filtering 1: Operation not supported") == true)
            #expect(try !f.exists("sgbr-vlan"), "the kernel removed the half-made bridge")
            #expect(try f.read() == LinkState())
        }
    }

    // 4.
    @Test func foreignLinksAreNeverReadAndSurviveEverything() throws {
        let f = try LinkFixture("lk-for")
        for command in [
            "link add br-foreign type bridge", "link set br-foreign up", "link add fp0 type veth peer name fp1",
            "link set fp0 master br-foreign", "link add vx-foreign type vxlan id 999 dstport 4789 local 192.0.2.1",
            "link set vx-foreign master br-foreign", "link add sgbr-fake type veth peer name sgbr-fake-p",
            "link set sgbr-fake master br-foreign", "link add sgvx-fake type bridge",
        ] {
            try f.sh("ip " + command)
        }
        try f.sh("bridge fdb append 00:00:00:00:00:00 dev vx-foreign dst 203.0.113.9")
        let foreign = ["br-foreign", "fp0", "vx-foreign", "sgbr-fake", "sgvx-fake"]
        let foreignBefore = try foreign.map { try f.details($0) }
        let fdbBefore = try f.floodLines("vx-foreign")

        #expect(try f.read() == LinkState())
        try f.apply(LinkFixture.build)
        #expect(try f.read() == LinkFixture.desired)

        // A name with our prefix but the wrong kind is refused, not deleted.
        let wrongKind = #expect(throws: NetlinkError.self) { try f.links.apply(.deleteBridge("sgbr-fake")) }
        #expect(wrongKind?.operation == "delete bridge sgbr-fake (sgbr-fake is a veth device, not a bridge)")
        let bridgeNotVXLAN = #expect(throws: NetlinkError.self) { try f.links.apply(.deleteVXLAN("sgvx-fake")) }
        #expect(bridgeNotVXLAN?.errno == EINVAL)

        try f.apply(diff(HostState(links: try f.read()), HostState(links: LinkState())).links)
        #expect(try f.read() == LinkState())
        _ = f.links.probe()

        let foreignAfter = try foreign.map { try f.details($0) }
        #expect(foreignAfter == foreignBefore)
        #expect(try f.floodLines("vx-foreign") == fdbBefore)
        #expect(fdbBefore == ["00:00:00:00:00:00 dst 203.0.113.9 self permanent"])
    }

    // 5.
    @Test func interfaceIndexOfMissingDeviceIsNil() throws {
        let f = try LinkFixture("lk-idx")
        #expect(try f.links.interfaceIndex("tap-missing") == nil)
        #expect(try f.links.interfaceIndex("") == nil)
        #expect(try f.links.interfaceIndex("a-name-longer-than-ifnamsiz") == nil)
        #expect(try f.links.interfaceIndex("lo") == 1)
        let line = try f.sh("ip -o link show tap0")
        let index = Int32(line.prefix { $0 != ":" })
        #expect(try f.links.interfaceIndex("tap0") == index)
        #expect(try !Shell.run("ip", ["link", "show", "tap0"]).stdout.contains("tap0p"), "the fixture stays in its namespace")
    }
}

/// Whether this kernel has bridge VLAN filtering, asked of `ip` in a
/// throwaway namespace. Not on the development kernel (6.18 without
/// CONFIG_BRIDGE_VLAN_FILTERING); Debian's stock kernel has it.
enum VLANKernel {
    static let available: Bool = {
        guard KernelAccess.available, let ns = try? TestNamespace("vf") else { return false }
        return (try? ns.exec("ip", ["link", "add", "sgt-vf", "type", "bridge", "vlan_filtering", "1"]))?.status == 0
    }()
}

/// The VLAN-aware paths. They can't run on the development kernel; they run
/// where the kernel has CONFIG_BRIDGE_VLAN_FILTERING (the stock-kernel VM).
@Suite(
    .enabled(if: KernelAccess.available, KernelAccess.reason),
    .enabled(if: VLANKernel.available, "needs bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING): run in the stock-kernel VM"))
struct LinkVLANTests {
    /// `bridge vlan show dev DEV` as "vid flags" lines, e.g. ["10 PVID Egress Untagged"].
    static func vlanLines(_ f: LinkFixture, _ device: String) throws -> [String] {
        try f.sh("bridge vlan show dev \(device)").split(separator: "\n").dropFirst().map {
            $0.split(separator: " ").map(String.init).filter { $0 != device }.joined(separator: " ")
        }.filter { !$0.isEmpty }
    }

    @Test func portsGetExactlyTheirPVIDAndTrunksTheirTaggedVLANs() throws {
        let f = try LinkFixture("lk-vlan")
        try f.sh("ip link add sgt-trunk type veth peer name sgt-trunk-p")
        let desired = LinkState(
            bridges: ["sgbr-vlan": Bridge(name: "sgbr-vlan", vlanFiltering: true)],
            ports: ["tap0": BridgePort(bridge: "sgbr-vlan", pvid: 10), "tap1": BridgePort(bridge: "sgbr-vlan", pvid: 20)],
            trunks: ["sgt-trunk": Trunk(bridge: "sgbr-vlan", vlans: [10, 20])])
        try f.apply(diff(HostState(links: try f.read()), HostState(links: desired)).links)
        #expect(try f.read() == desired)
        #expect(try f.sh("ip -d link show sgbr-vlan").contains("vlan_filtering 1"))
        #expect(try Self.vlanLines(f, "tap0") == ["10 PVID Egress Untagged"])
        #expect(try Self.vlanLines(f, "tap1") == ["20 PVID Egress Untagged"])
        #expect(try Self.vlanLines(f, "sgt-trunk") == ["10", "20"])

        // A new PVID replaces the old VLAN; a stray VLAN reads as no PVID and
        // is removed by attaching again.
        try f.links.apply(.attachPort(device: "tap0", BridgePort(bridge: "sgbr-vlan", pvid: 30)))
        #expect(try Self.vlanLines(f, "tap0") == ["30 PVID Egress Untagged"])
        try f.sh("bridge vlan add dev tap1 vid 99")
        #expect(try f.read().ports["tap1"] == BridgePort(bridge: "sgbr-vlan", pvid: nil))
        try f.links.apply(.attachPort(device: "tap1", BridgePort(bridge: "sgbr-vlan", pvid: 20)))
        #expect(try Self.vlanLines(f, "tap1") == ["20 PVID Egress Untagged"])

        try f.links.apply(.deleteTrunkVLANs(device: "sgt-trunk", [10]))
        #expect(try f.read().trunks["sgt-trunk"] == Trunk(bridge: "sgbr-vlan", vlans: [20]))
        try f.apply(diff(HostState(links: try f.read()), HostState(links: LinkState())).links)
        #expect(try f.read() == LinkState())
    }
}
