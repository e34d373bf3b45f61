import CNetlink
import HostModel
import PolicyModel
import Testing

@testable import Netlink

/// The link requests against the bytes iproute2 6.1 sends for the same
/// command (captured with `strace -e trace=sendmsg -e write=all` in a
/// namespace where d0 = 3, sgbr-100 = 4, sgvx-100 = 6; sequence set to 0).
/// No kernel needed.
@Suite struct LinkRequestTests {
    static func bytes(_ message: RTMessage) -> [UInt8] { message.withBytes { Array($0) } }

    static func hex(_ text: String) -> [UInt8] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
    }

    static let ipv4 = IPAddress("192.0.2.1")!

    @Test func addBridgeIsIPLinkAddUpTypeBridge() {
        // ip link add sgbr-100 up type bridge
        let golden = Self.hex(
            """
            40 00 00 00 10 00 05 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00
            0d 00 03 00 73 67 62 72 2d 31 30 30 00 00 00 00 10 00 12 00 0a 00 01 00 62 72 69 64 67 65 00 00
            """)
        #expect(Self.bytes(LinkRequest.addBridge(Bridge(name: "sgbr-100", vlanFiltering: false), sequence: 0)) == golden)
    }

    @Test func addVLANAwareBridgeTurnsOffTheDefaultPVID() {
        // ip link add sgbr-vlan up type bridge vlan_filtering 1 vlan_default_pvid 0
        let golden = Self.hex(
            """
            54 00 00 00 10 00 05 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00
            0e 00 03 00 73 67 62 72 2d 76 6c 61 6e 00 00 00 24 00 12 00 0a 00 01 00 62 72 69 64 67 65 00 00
            14 00 02 00 05 00 07 00 01 00 00 00 06 00 27 00 00 00 00 00
            """)
        #expect(Self.bytes(LinkRequest.addBridge(Bridge(name: "sgbr-vlan", vlanFiltering: true), sequence: 0)) == golden)
    }

    @Test func addVXLANWithIPv4LocalAndUnderlay() {
        // ip link add sgvx-100 up master sgbr-100 type vxlan id 100 local 192.0.2.1 dev d0 dstport 4789
        let golden = Self.hex(
            """
            74 00 00 00 10 00 05 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00
            08 00 0a 00 04 00 00 00 0d 00 03 00 73 67 76 78 2d 31 30 30 00 00 00 00 3c 00 12 00 09 00 01 00
            76 78 6c 61 6e 00 00 00 2c 00 02 00 08 00 03 00 03 00 00 00 08 00 01 00 64 00 00 00 08 00 04 00
            c0 00 02 01 05 00 07 00 01 00 00 00 06 00 0f 00 12 b5 00 00
            """)
        let device = VXLANDevice(name: "sgvx-100", vni: 100, local: Self.ipv4, underlay: "d0", port: 4789, bridge: "sgbr-100")
        #expect(Self.bytes(LinkRequest.addVXLAN(device, bridge: 4, underlay: 3, sequence: 0)) == golden)
    }

    @Test func addVXLANWithIPv6Local() {
        // ip link add sgvx-6 up master sgbr-100 type vxlan id 101 local 2001:db8::1 dstport 4789
        let golden = Self.hex(
            """
            74 00 00 00 10 00 05 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 01 00 00 00
            08 00 0a 00 04 00 00 00 0b 00 03 00 73 67 76 78 2d 36 00 00 40 00 12 00 09 00 01 00 76 78 6c 61
            6e 00 00 00 30 00 02 00 08 00 01 00 65 00 00 00 14 00 11 00 20 01 0d b8 00 00 00 00 00 00 00 00
            00 00 00 01 05 00 07 00 01 00 00 00 06 00 0f 00 12 b5 00 00
            """)
        let device = VXLANDevice(
            name: "sgvx-6", vni: 101, local: IPAddress("2001:db8::1"), underlay: nil, port: 4789, bridge: "sgbr-100")
        #expect(Self.bytes(LinkRequest.addVXLAN(device, bridge: 4, underlay: nil, sequence: 0)) == golden)
    }

    @Test func masterAndNomasterAndDelete() {
        let header = "00 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00"
        // ip link set d0 master sgbr-100 / ip link set d0 nomaster
        #expect(
            Self.bytes(LinkRequest.setMaster(index: 3, master: 4, sequence: 0))
                == Self.hex("28 00 00 00 10 00 05 00 \(header) 08 00 0a 00 04 00 00 00"))
        #expect(
            Self.bytes(LinkRequest.setMaster(index: 3, master: 0, sequence: 0))
                == Self.hex("28 00 00 00 10 00 05 00 \(header) 08 00 0a 00 00 00 00 00"))
        // ip link del sgvx-100
        #expect(
            Self.bytes(LinkRequest.deleteLink(index: 6, sequence: 0))
                == Self.hex(
                    "20 00 00 00 11 00 05 00 00 00 00 00 00 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00 00 00 00 00"))
    }

    @Test func floodEntriesAreBridgeFDBAppendAndDel() {
        let body = """
            07 00 00 00 06 00 00 00 c0 00 02 00 0a 00 02 00 00 00 00 00 00 00 00 00 08 00 01 00 c6 33 64 01
            """
        let remote = IPAddress("198.51.100.1")!
        // bridge fdb append 00:00:00:00:00:00 dev sgvx-100 dst 198.51.100.1
        #expect(
            Self.bytes(LinkRequest.flood(remote, device: 6, add: true, sequence: 0))
                == Self.hex("30 00 00 00 1c 00 05 0c 00 00 00 00 00 00 00 00 \(body)"))
        // bridge fdb del 00:00:00:00:00:00 dev sgvx-100 dst 198.51.100.1
        #expect(
            Self.bytes(LinkRequest.flood(remote, device: 6, add: false, sequence: 0))
                == Self.hex("30 00 00 00 1d 00 05 00 00 00 00 00 00 00 00 00 \(body)"))
    }

    @Test func portVLANsAreBridgeVLANAddAndDel() {
        let header = "07 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00"
        // bridge vlan add dev d0 vid 10 pvid untagged
        #expect(
            Self.bytes(LinkRequest.vlans([PortVLAN(vid: 10, flags: PortVLAN.pvidUntagged)], device: 3, add: true, sequence: 0))
                == Self.hex("2c 00 00 00 13 00 05 00 00 00 00 00 00 00 00 00 \(header) 0c 00 1a 00 08 00 02 00 06 00 0a 00"))
        // bridge vlan del dev d0 vid 10
        #expect(
            Self.bytes(LinkRequest.vlans([PortVLAN(vid: 10, flags: PortVLAN.pvidUntagged)], device: 3, add: false, sequence: 0))
                == Self.hex("2c 00 00 00 11 00 05 00 00 00 00 00 00 00 00 00 \(header) 0c 00 1a 00 08 00 02 00 00 00 0a 00"))
    }

    @Test func aTrunkOfAllVLANsFitsOneMessage() {
        let vlans = (1...4094).map { PortVLAN(vid: UInt16($0), flags: 0) }
        let bytes = Self.bytes(LinkRequest.vlans(vlans, device: 3, add: true, sequence: 0))
        #expect(bytes.count == 16 + 16 + 4 + 8 * 4094)
    }

    /// A request read back with the reader used for kernel replies: the
    /// VXLAN attributes a NEWLINK carries are the ones `read` reports.
    @Test func aNewLinkMessageReadsBackAsItsRecord() {
        let device = VXLANDevice(
            name: "sgvx-7", vni: 7, local: IPAddress("2001:db8::7"), underlay: "d0", port: 8472, bridge: "sgbr-7")
        let message = LinkRequest.addVXLAN(device, bridge: 4, underlay: 3, sequence: 9)
        let record = message.withBytes { LinkRecord(message: $0.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)) }
        #expect(
            record
                == LinkRecord(
                    index: 0, name: "sgvx-7", flags: UInt32(IFF_UP), master: 4, kind: "vxlan",
                    vxlan: .init(vni: 7, local: IPAddress("2001:db8::7"), underlay: 3, port: 8472)))
    }

    @Test func attributeParsingStopsAtABadLength() {
        // One good u32 attribute, then one claiming 200 bytes.
        let bytes: [UInt8] = [8, 0, 1, 0, 42, 0, 0, 0, 200, 0, 2, 0, 1, 2, 3, 4]
        bytes.withUnsafeBytes { raw in
            let attributes = RTAttributes(raw)
            #expect(attributes.entries.count == 1)
            #expect(attributes.u32(1) == 42)
            #expect(attributes.u32(2) == nil)
        }
    }

    @Test func addressesRoundTripThroughNetworkBytes() {
        for text in ["192.0.2.1", "255.0.0.1", "2001:db8::1", "fe80::1:2:3:4"] {
            let address = IPAddress(text)!
            let back = address.networkBytes.withUnsafeBytes { IPAddress(networkBytes: $0) }
            #expect(back == address, "\(text)")
        }
        #expect(IPAddress("192.0.2.1")!.networkBytes == [192, 0, 2, 1])
    }
}

/// Which links `read` reports, and how, without a kernel.
@Suite struct LinkScopeTests {
    static let records: [LinkRecord] = [
        LinkRecord(index: 1, name: "lo"),
        LinkRecord(index: 2, name: "eth0", kind: "veth"),
        LinkRecord(index: 3, name: "sgbr-1", kind: "bridge", vlanFiltering: false),
        LinkRecord(index: 4, name: "sgbr-vlan", kind: "bridge", vlanFiltering: true),
        LinkRecord(index: 5, name: "br-foreign", kind: "bridge", vlanFiltering: false),
        LinkRecord(index: 6, name: "sgbr-fake", kind: "veth"),
        LinkRecord(
            index: 7, name: "sgvx-1", master: 3, kind: "vxlan",
            vxlan: .init(vni: 1, local: IPAddress("192.0.2.1"), underlay: 2, port: 4789)),
        LinkRecord(index: 8, name: "tap-a", master: 3, kind: "tun"),
        LinkRecord(index: 9, name: "tap-b", master: 4, kind: "tun"),
        LinkRecord(index: 10, name: "tap-c", master: 4, kind: "tun"),
        LinkRecord(index: 11, name: "tap-foreign", master: 5, kind: "tun"),
        LinkRecord(index: 12, name: "eth1", master: 4, kind: "veth"),
        LinkRecord(
            index: 13, name: "sgvx-loose", kind: "vxlan", vxlan: .init(vni: 2, local: nil, underlay: nil, port: 4789)),
    ]

    @Test func readsOnlyTheProjectsLinks() {
        var scope = LinkScope(bridgePrefix: "sgbr-", vxlanPrefix: "sgvx-", trunkDevices: ["eth1"])
        scope.select(Self.records)
        scope.floods = [FloodEntry(device: "sgvx-1", remote: IPAddress("198.51.100.1")!)]
        let pvid10 = PortVLAN(vid: 10, flags: PortVLAN.pvidUntagged)
        scope.vlans = [
            9: [pvid10],
            // Also in VLAN 20: reads as no PVID, so the diff attaches it again.
            10: [pvid10, PortVLAN(vid: 20, flags: 0)],
            12: [PortVLAN(vid: 10, flags: 0), PortVLAN(vid: 20, flags: 0), PortVLAN(vid: 1, flags: PortVLAN.pvidUntagged)],
        ]
        let state = scope.state(links: Self.records)
        #expect(
            state
                == LinkState(
                    bridges: [
                        "sgbr-1": Bridge(name: "sgbr-1", vlanFiltering: false),
                        "sgbr-vlan": Bridge(name: "sgbr-vlan", vlanFiltering: true),
                    ],
                    vxlans: [
                        "sgvx-1": VXLANDevice(
                            name: "sgvx-1", vni: 1, local: IPAddress("192.0.2.1"), underlay: "eth0", port: 4789,
                            bridge: "sgbr-1"),
                        "sgvx-loose": VXLANDevice(
                            name: "sgvx-loose", vni: 2, local: nil, underlay: nil, port: 4789, bridge: ""),
                    ],
                    floods: [FloodEntry(device: "sgvx-1", remote: IPAddress("198.51.100.1")!)],
                    ports: [
                        "tap-a": BridgePort(bridge: "sgbr-1"),
                        "tap-b": BridgePort(bridge: "sgbr-vlan", pvid: 10),
                        "tap-c": BridgePort(bridge: "sgbr-vlan", pvid: nil),
                    ],
                    trunks: ["eth1": Trunk(bridge: "sgbr-vlan", vlans: [10, 20])]))
    }

    @Test func pvidNeedsExactlyOneUntaggedPVIDVLAN() {
        #expect(LinkScope.pvid([]) == nil)
        #expect(LinkScope.pvid([PortVLAN(vid: 5, flags: PortVLAN.pvidUntagged)]) == 5)
        #expect(LinkScope.pvid([PortVLAN(vid: 5, flags: UInt16(BRIDGE_VLAN_INFO_PVID))]) == nil, "egress tagged")
        #expect(LinkScope.pvid([PortVLAN(vid: 5, flags: 0)]) == nil)
    }
}
