import Foundation
import Testing

/// A VM: a namespace whose `eth0` is one end of a veth pair; the other end,
/// in the host namespace, is the port's device.
struct VM: Sendable {
    let host: Host
    /// The port's name in the policy.
    let name: String
    let namespace: String
    let network: String
    let mac: String
    /// As declared in the policy (no prefix length).
    let ips: [String]
    let device: String

    var ipv4: String { ips.first { !$0.contains(":") }! }
    var ipv6: String { ips.first { $0.contains(":") }! }
    /// The EUI-64 link-local address the kernel gives eth0 from the MAC.
    var linkLocal: String {
        let b = mac.split(separator: ":").map { UInt8($0, radix: 16)! }
        func group(_ x: UInt8, _ y: UInt8) -> String { String(UInt16(x) << 8 | UInt16(y), radix: 16) }
        return "fe80::\(group(b[0] ^ 0x02, b[1])):\(group(b[2], 0xff)):\(group(0xfe, b[3])):\(group(b[4], b[5]))"
    }

    /// Creates the veth pair: the port's device on the host, `eth0` here.
    func plugIn() async throws {
        try await Shell.must([
            "ip", "-n", host.namespace, "link", "add", device, "type", "veth",
            "peer", "name", "eth0", "netns", namespace, "address", mac,
        ])
        try await Shell.must(["ip", "-n", host.namespace, "link", "set", device, "up"])
        for ip in ips {
            let address = ip.contains("/") ? ip : ip + (ip.contains(":") ? "/64" : "/24")
            try await Shell.must(["ip", "-n", namespace, "addr", "add", address, "dev", "eth0"])
        }
        try await Shell.must(["ip", "-n", namespace, "link", "set", "eth0", "up"])
    }

    func exec(_ argv: [String], timeout: Duration = .seconds(10)) async throws -> CommandOutput {
        try await Shell.run(["ip", "netns", "exec", namespace] + argv, timeout: timeout)
    }

    func mustExec(_ argv: [String]) async throws {
        try await Shell.must(["ip", "netns", "exec", namespace] + argv)
    }

    /// Starts a command in the VM that runs until stopped (at teardown at the latest).
    func start(_ argv: [String]) throws -> Child {
        try host.topology.start(["ip", "netns", "exec", namespace] + argv)
    }

    // MARK: traffic

    /// Starts `probe.py serve` (echo servers and raw listeners) and waits until it listens.
    func serve(tcp: String? = nil, udp: String? = nil, raw: String? = nil, icmp: Bool = false) async throws -> Server {
        // Served until the topology stops it: probe.py's own default (120 s)
        // is shorter than a long scenario in the emulated VM, where a
        // daemon test's server once exited before its last checks.
        var argv = [Paths.script("probe.py"), "serve", "--seconds", "3600"]
        if let tcp { argv += ["--tcp", tcp] }
        if let udp { argv += ["--udp", udp] }
        if let raw { argv += ["--raw", raw] }
        if icmp { argv.append("--icmp") }
        let child = try start(argv)
        guard await child.waitFor("ready", timeout: Slowness.processStart) else {
            throw HarnessError("server in \(name) did not start: \(child.stdout)\(child.stderr)")
        }
        return Server(vm: self, child: child)
    }

    /// A single connection attempt; see `Traffic` for what each kind does.
    /// The probe's own timeouts end it; the harness's limit is only for a
    /// probe that never gets going: in the emulated VM, beside the example
    /// suite's 32 concurrent probes, a Python probe once had not printed a
    /// word after 30 s (10 s × 3), and was killed and taken for blocked.
    func attempt(_ traffic: Traffic, to address: String) async throws -> CommandOutput {
        try await exec(traffic.command(to: address), timeout: Slowness.processStart)
    }

    /// A TCP connection kept open (`probe.py hold`): one echoed line every 200 ms.
    func hold(tcp port: Int, to address: String, sourcePort: Int? = nil) async throws -> Child {
        var argv = [Paths.script("probe.py"), "hold", address, "\(port)"]
        if let sourcePort { argv += ["--sport", "\(sourcePort)"] }
        return try start(argv)
    }

    /// Sends hand-made frames (scapy expressions) out of eth0.
    func sendFrames(_ expressions: [String]) async throws {
        let out = try await exec(["python3", Paths.script("frames.py"), "eth0"] + expressions, timeout: .seconds(30))
        guard out.succeeded else { throw HarnessError("frames.py in \(name) failed: \(out)") }
    }

    /// Watches eth0 for frames carrying the markers; waits until it listens.
    func sniff(_ markers: [String]) async throws -> Child {
        let child = try start(["python3", Paths.script("sniff.py"), "eth0"] + markers)
        guard await child.waitFor("ready", timeout: Slowness.processStart) else {
            throw HarnessError("sniffer in \(name) did not start: \(child.stdout)\(child.stderr)")
        }
        return child
    }
}

/// A running `probe.py serve`: what it logged says what reached it.
struct Server: Sendable {
    let vm: VM
    let child: Child

    /// Waits (up to `timeout`) for an event line containing `text`, e.g. "raw 47 10.0.0.1".
    func saw(_ text: String, within timeout: Duration = .seconds(1)) async -> Bool {
        await child.waitFor(text, timeout: timeout)
    }

    var log: String { child.stdout + child.stderr }
}

/// The kinds of traffic a check sends. Negative checks must stay fast: one
/// packet and a 1 s timeout.
enum Traffic: Sendable, CustomStringConvertible {
    /// One echo request (`ping -c1 -W1`), IPv4 or IPv6 by the address.
    case ping
    /// One echo request sent from one of the VM's addresses (`ping -I`).
    case pingFrom(String)
    /// Connect, send a line, get it echoed (1 s timeout).
    case tcp(Int, sourcePort: Int? = nil)
    /// Send a datagram and wait 1 s for the echo.
    case udp(Int, sourcePort: Int? = nil)

    var description: String {
        switch self {
        case .ping: "ping"
        case .pingFrom(let source): "ping from \(source)"
        case .tcp(let port, let sport): "tcp/\(port)" + (sport.map { " from port \($0)" } ?? "")
        case .udp(let port, let sport): "udp/\(port)" + (sport.map { " from port \($0)" } ?? "")
        }
    }

    func command(to address: String) -> [String] {
        switch self {
        case .ping:
            return ["ping", "-n", "-c", "1", "-W", "\(Slowness.factor)", address]
        case .pingFrom(let source):
            return ["ping", "-n", "-c", "1", "-W", "\(Slowness.factor)", "-I", source, address]
        case .tcp(let port, let sport):
            return [Paths.script("probe.py"), "tcp", address, "\(port)", "--timeout", "\(Slowness.factor)"] + (sport.map { ["--sport", "\($0)"] } ?? [])
        case .udp(let port, let sport):
            return [Paths.script("probe.py"), "udp", address, "\(port)", "--timeout", "\(Slowness.factor)"] + (sport.map { ["--sport", "\($0)"] } ?? [])
        }
    }
}
