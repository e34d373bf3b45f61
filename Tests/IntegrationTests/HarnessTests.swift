import Testing

/// The harness's own promises that the scenarios rely on.
@Suite struct HarnessTests {
    /// A probe killed at the harness's time limit said nothing either way:
    /// it must never read as "blocked" (a check expected to be blocked would
    /// pass on a probe that never ran).
    @Test func aCommandKilledAtItsTimeLimitHasNotFinished() async throws {
        let killed = try await Shell.run(["sleep", "30"], timeout: .milliseconds(200))
        #expect(!killed.finished)
        #expect(!killed.succeeded)
        #expect(killed.description.contains("never finished"), "\(killed)")

        let refused = try await Shell.run(["false"])
        #expect(refused.finished)
        #expect(refused.status == 1)
        #expect(!refused.succeeded)

        let passed = try await Shell.run(["true"])
        #expect(passed.finished && passed.succeeded)
    }

    @Test func theMachineLoadLineNamesLoadAndMemory() {
        let line = MachineLoad.summary
        #expect(line.hasPrefix("machine: load "), "\(line)")
        #expect(!line.contains("available ?"), "\(line)")
    }
}
