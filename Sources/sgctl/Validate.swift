import ArgumentParser
import PolicyModel

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a policy; print every problem, one per line, path first.",
        discussion: "Exit 0 when the policy is valid, 1 when it is not, 2 when it can't be read.")

    @OptionGroup var input: PolicyInput

    @Flag(name: .shortAndLong, help: "Print nothing when the policy is valid.")
    var quiet = false

    func run() throws {
        let policy = try input.load()
        if !quiet {
            print("valid: \(policy.networks.count) networks, \(policy.hosts.count) hosts, \(policy.securityGroups.count) security groups, \(policy.ports.count) ports")
        }
    }
}
