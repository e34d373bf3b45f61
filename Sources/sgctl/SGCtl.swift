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
              0   success (plan --detailed-exitcode: no changes)
              1   the policy is invalid (every problem is printed, one per line, path first),
                  can't be read, or the host is not in it
              2   plan --detailed-exitcode: there are changes to apply
              3   kernel error, or the kernel lacks a feature the policy needs: nothing was changed
              64  wrong command-line usage
            """,
        version: "0.1.0",
        subcommands: [Validate.self, Compile.self, PlanCommand.self, Apply.self, Doctor.self, Status.self]
    )
}

/// Exit codes shared by the subcommands (see the discussion above).
enum ExitStatus {
    static let invalidPolicy = ExitCode(1)
    static let unreadable = ExitCode(1)
    static let changesPending = ExitCode(2)
    static let kernelError = ExitCode(3)
}
