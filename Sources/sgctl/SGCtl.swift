import ArgumentParser

@main
struct SGCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgctl",
        abstract: "Compile and check security-group and tenant-isolation policies for Linux hypervisor hosts.",
        discussion: """
            POLICY is a policy file in format version 1 (JSON, or YAML with a .yaml/.yml \
            name), or - for standard input.

            Exit codes:
              0   success (plan --detailed-exitcode: no changes; trace: the packet is allowed)
              1   the policy is invalid (every problem is printed, one per line, path first),
                  can't be read, or the host (trace: a port or address) is not in it;
                  watch: the NFLOG group can't be bound (taken, or no CAP_NET_ADMIN)
              2   plan --detailed-exitcode: there are changes to apply; trace: the packet is dropped
              3   kernel error, or the kernel lacks a feature the policy needs: nothing was changed
              64  wrong command-line usage
            """,
        version: "0.1.0",
        subcommands: [Validate.self, Compile.self, PlanCommand.self, Apply.self, Doctor.self, Status.self, TraceCommand.self, StatsCommand.self, Watch.self]
    )
}

/// Exit codes shared by the subcommands (see the discussion above).
enum ExitStatus {
    static let invalidPolicy = ExitCode(1)
    static let unreadable = ExitCode(1)
    static let changesPending = ExitCode(2)
    /// trace: the policy is fine but the ends can't be traced (unknown port, mixed families...).
    static let untraceable = ExitCode(1)
    /// trace: the packet is dropped. Not 1, which already means "the policy
    /// is invalid" for every subcommand: a script must tell "blocked" from "broken".
    static let dropped = ExitCode(2)
    static let kernelError = ExitCode(3)
}
