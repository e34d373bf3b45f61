import Foundation
import PolicyModel
import SyntheticCloud
import Testing

/// `sgctl` as a user runs it: exit codes, what goes to stdout and stderr.
@Suite struct SGCtlTests {
    @Test(arguments: Command.examples)
    func examplesAreValid(_ example: URL) throws {
        let result = try Command.sgctl(["validate", example.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("valid: "))
        #expect(result.stderr.isEmpty)
    }

    @Test func examplesExist() {
        #expect(Command.examples.map(\.lastPathComponent) == [
            "two-tenants-identical-subnets.json", "two-tier-web.json", "vxlan-spanning-hosts.json",
        ])
    }

    @Test func examplesMatchTheJSONSchema() throws {
        let script = Command.packageRoot.appendingPathComponent("policies/check-schema.py").path
        let result = try Command.run("/usr/bin/python3", [script])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(" passed, 0 failed"))
    }

    @Test func brokenPolicyListsEveryProblemOnePerLinePathFirst() throws {
        let policy = """
            {"version": 1,
             "networks": [{"name": "blue", "segment": {"type": "vlan", "id": 5000}}],
             "hosts": [{"name": "hv1"}],
             "securityGroups": [{"name": "web", "rules": [{"direction": "ingres"}]}],
             "ports": [{"name": "vm1", "host": "hv1", "device": "tap-vm1", "network": "blue",
                        "mac": "01:00:5e:00:00:01", "securityGroups": ["wbe"], "colour": "red"}]}
            """
        let result = try Command.sgctl(["validate", "-"], stdin: policy)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("networks[0].segment.id: 5000 is out of range 1..4094"))
        #expect(lines.contains(#"securityGroups[0].rules[0].direction: unknown direction "ingres"; expected "ingress" or "egress" (did you mean "ingress"?)"#))
        #expect(lines.contains("ports[0].mac: 01:00:5e:00:00:01 is a multicast MAC address; a port needs a unicast one"))
        #expect(lines.contains(#"ports[0].securityGroups[0]: unknown security group "wbe" (did you mean "web"?)"#))
        #expect(lines.contains(#"ports[0].colour: unknown field"#))
        #expect(lines.count == 5, "\(lines)")
    }

    @Test func syntaxErrorNamesLineAndColumn() throws {
        let result = try Command.sgctl(["validate", "-"], stdin: "{\"version\": 1,\n  \"hosts\": [}\n")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("invalid JSON: line 2, column "), "\(result.stderr)")
    }

    @Test func unreadableFileExitsOne() throws {
        let result = try Command.sgctl(["validate", "/nonexistent/policy.json"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("can't read /nonexistent/policy.json"))
    }

    @Test func yamlPolicyReadsLikeJSON() throws {
        let yaml = """
            version: 1
            networks:
              - name: blue
                segment: {type: vlan, id: 100}
                subnets: [10.1.0.0/24]
            hosts:
              - name: hv1
                uplink: eth1
            securityGroups:
              - name: web
                rules:
                  - {direction: ingress, protocol: tcp, ports: ["80", "443"]}
                  - {direction: egress}
            ports:
              - name: vm1
                host: hv1
                device: tap-vm1
                network: blue
                mac: "52:54:00:00:01:01"
                ips: [10.1.0.11]
                securityGroups: [web]
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sgctl-test-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try Command.sgctl(["validate", file.path])
        #expect(result.status == 0, "\(result.stderr)")
        let fromStdin = try Command.sgctl(["compile", "-", "--host", "hv1", "--output", "nft"], stdin: yaml)
        #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
        #expect(fromStdin.stdout.contains(#"meta nfproto ipv4 meta l4proto tcp th dport { 80, 443 } counter accept comment "web rule 0""#))
    }

    @Test func compileTextShowsPortsLinksAndRuleset() throws {
        let example = Command.packageRoot.appendingPathComponent("policies/examples/vxlan-spanning-hosts.json").path
        let result = try Command.sgctl(["compile", example, "--host", "hv1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("# ports\n"))
        #expect(result.stdout.contains("ip link add sgvx-5001 type vxlan id 5001 local 192.0.2.1 dev eth1 dstport 4789"))
        #expect(result.stdout.contains("bridge fdb append 00:00:00:00:00:00 dev sgvx-5001 dst 192.0.2.2"))
        #expect(result.stdout.contains("table inet secgroups {"))
    }

    @Test func compileJSONIsMachineReadable() throws {
        let example = Command.packageRoot.appendingPathComponent("policies/examples/two-tier-web.json").path
        let result = try Command.sgctl(["compile", example, "--host", "hv2", "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["host"] as? String == "hv2")
        #expect((object?["ports"] as? [Any])?.isEmpty == false)
    }

    @Test func unknownHostExitsOneWithASuggestion() throws {
        let example = Command.packageRoot.appendingPathComponent("policies/examples/two-tier-web.json").path
        let result = try Command.sgctl(["compile", example, "--host", "hv9"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(#"host "hv9" is not in the policy (did you mean "hv1"?)"#))
    }

    @Test func helpDocumentsExitCodes() throws {
        let result = try Command.sgctl(["--help"])
        #expect(result.stdout.contains("Exit codes:"))
        #expect(result.stdout.contains("1   the policy is invalid"))
    }
}
