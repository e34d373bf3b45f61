import ArgumentParser
import Foundation
import HostModel
import RuleStats

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the packet and byte counters of this host's rules: each group rule, each port's default drop, invalid packets, port-security drops.",
        discussion: """
            Read from this host's kernel (or --netns), no policy needed. A group's \
            rules are shared by its ports on the host, so a rule's counter is the \
            sum over them; a port's default drop counts that port alone. Counters \
            start again from zero when the chain holding them is rewritten (a \
            group's rules change, a port changes groups).
            """)

    @OptionGroup var kernel: KernelOptions

    @Option(help: "Only this port's default drops (its name or its device).")
    var port: String?

    @Option(help: "Only this security group's rules (and invalid packets of its ports).")
    var group: String?

    @Option(help: "text or json.")
    var output: StatsOutput = .text

    enum StatsOutput: String, ExpressibleByArgument { case text, json }

    func run() throws {
        let counters: [NFTRuleCounter]
        do {
            counters = try kernel.withDataplane { dataplane, _ in try dataplane.counters() }
        } catch {
            throw kernelFailure(error)
        }
        let filter = StatsFilter(port: port, group: group)
        let rows = StatsRow.rows(from: counters).filter(filter.keeps)
        switch output {
        case .text:
            if rows.isEmpty {
                print(counters.isEmpty ? "no counters: this host has no tables of ours" : "no counters match")
                return
            }
            for line in StatsText.render(rows) { print(line) }
        case .json:
            try printJSON(rows)
        }
    }
}
