import ArgumentParser
import Enforcer
import Foundation
import HostModel
import PolicyCompiler
import PolicyModel

enum CompileOutput: String, ExpressibleByArgument, CaseIterable {
    case text, nft, json
}

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the state one host must have: its links, then its nftables ruleset.",
        discussion: """
            --output text (default): ports, links as the ip/bridge commands that make them, then the ruleset.
            --output nft: only the ruleset, as input for `nft -f -` (it replaces the project's own tables only).
            --output json: the whole state, for machines.
            """)

    @OptionGroup var input: PolicyInput

    @Option(help: "The host to compile for (default: this machine's short host name).")
    var host: String?

    @Option(help: "text, nft or json.")
    var output: CompileOutput = .text

    func run() throws {
        let policy = try input.load()
        let hostName = host ?? Enforcer.localHostName
        let compilation: HostCompilation
        do {
            compilation = try PolicyCompiler(policy).compileExplained(host: hostName)
        } catch {
            printError("sgctl: \(error)")
            throw ExitStatus.invalidPolicy
        }
        switch output {
        case .nft:
            print(NFTRenderer.ruleset(compilation.state.tables.values), terminator: "")
        case .json:
            try printJSON(CompiledHost(host: compilation.host, ports: compilation.ports, state: compilation.state))
        case .text:
            print(text(compilation), terminator: "")
        }
    }

    private func text(_ c: HostCompilation) -> String {
        var out = "# host \(c.host): \(c.ports.count) ports\n"
        if c.ports.isEmpty {
            out += "# no ports on this host: nothing to create\n"
            return out
        }
        out += "\n# ports\n"
        for port in c.ports {
            let groups = port.slot == nil ? "port security off" : port.securityGroups.isEmpty ? "no groups" : port.securityGroups.joined(separator: ", ")
            let kind = port.slot == nil ? "" : port.stateful ? " (stateful)" : " (stateless)"
            let slot = port.slot.map { " slot \($0)" } ?? ""
            out += "#   \(port.name): \(port.device) on \(port.bridge), network \(port.network) (\(port.segment)), zone \(port.zone)\(slot): \(groups)\(kind)\n"
        }
        out += "\n# links\n"
        for line in LinkRenderer.lines(c.state.links) { out += line + "\n" }
        out += "\n# nftables\n"
        out += NFTRenderer.ruleset(c.state.tables.values)
        return out
    }
}

/// The JSON document `--output json` prints.
struct CompiledHost: Encodable {
    var host: String
    var ports: [CompiledPort]
    var state: HostState
}
