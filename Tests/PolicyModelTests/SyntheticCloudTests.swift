import PolicyModel
import SyntheticCloud
import Testing

@Suite("SyntheticCloud")
struct SyntheticCloudTests {
    static let shapes: [CloudShape] =
        [1, 2, 3, 42, 0xdead_beef].map(CloudShape.small(seed:)) + [.medium(seed: 7)]

    @Test("round-trips through PolicyEncoder and PolicyDecoder unchanged", arguments: shapes)
    func roundTrip(shape: CloudShape) throws {
        let policy = SyntheticCloud.generate(shape)
        let json = PolicyEncoder.json(policy)
        switch PolicyDecoder.decode(json: json) {
        case .success(let decoded):
            #expect(decoded == policy)
        case .failure(let error):
            Issue.record("generated policy is invalid: \(error)")
        }
    }

    @Test("the same seed gives the same policy, another seed another one", arguments: shapes)
    func deterministic(shape: CloudShape) {
        let policy = SyntheticCloud.generate(shape)
        #expect(SyntheticCloud.generate(shape) == policy)
        var other = shape
        other.seed &+= 1
        #expect(SyntheticCloud.generate(other) != policy)
    }

    @Test("counts match the shape", arguments: shapes)
    func counts(shape: CloudShape) {
        let policy = SyntheticCloud.generate(shape)
        #expect(policy.hosts.count == shape.hosts)
        #expect(policy.ports.count == shape.ports)
        #expect(policy.securityGroups.count == shape.groups)
        #expect(policy.networks.count == shape.networks)
        #expect(policy.securityGroups.allSatisfy { $0.rules.count == shape.rulesPerGroup })
        for port in policy.ports where port.portSecurity {
            #expect((1...shape.groupsPerPort).contains(port.securityGroups.count), "\(port.name)")
        }
        // Every network and every host has ports.
        #expect(Set(policy.ports.map(\.network)).count == shape.networks)
        #expect(Set(policy.ports.map(\.host)).count == shape.hosts)
    }

    @Test("looks like a cloud: segments, subnets, uplinks, rule mix", arguments: [CloudShape.medium(seed: 7)])
    func realistic(shape: CloudShape) {
        let policy = SyntheticCloud.generate(shape)
        let segments = policy.networks.map(\.segment)
        #expect(segments.contains { if case .vlan = $0 { true } else { false } })
        #expect(segments.contains { if case .vxlan = $0 { true } else { false } })
        #expect(policy.networks.allSatisfy { $0.subnets.contains { $0.family == .ipv4 } })
        #expect(policy.networks.contains { $0.subnets.contains { $0.family == .ipv6 } })
        #expect(policy.hosts.allSatisfy { $0.uplink == "eth1" && $0.vtep != nil })
        #expect(Set(policy.hosts.compactMap(\.vtep)).count == policy.hosts.count)
        #expect(policy.ports.allSatisfy { $0.device.utf8.count <= Port.maxDeviceBytes })

        let rules = policy.securityGroups.flatMap(\.rules)
        let remoteGroup = rules.filter { if case .group = $0.remote { true } else { false } }.count
        #expect(Double(remoteGroup) / Double(rules.count) > 0.2)
        #expect(rules.contains { $0.proto == .icmp })
        #expect(rules.contains { if case .number = $0.proto { true } else { false } })
        #expect(rules.contains { $0.proto == .tcp && $0.ports.contains { $0.lower < $0.upper } })
        #expect(policy.securityGroups.contains { !$0.stateful })

        let securityOff = policy.ports.filter { !$0.portSecurity }
        #expect(!securityOff.isEmpty && securityOff.allSatisfy(\.securityGroups.isEmpty))
        #expect(policy.ports.contains { !$0.allowedAddressPairs.isEmpty })
        #expect(Set(policy.ports.map(\.mac)).count == policy.ports.count)

        // A network's ports are on a few hosts, not everywhere.
        let hostsOfNetwork = Dictionary(grouping: policy.ports, by: \.network).mapValues { Set($0.map(\.host)).count }
        #expect(hostsOfNetwork.values.allSatisfy { $0 < shape.hosts / 2 })
    }
}
