import ArgumentParser
import Foundation
import PolicyModel
import PolicyYAML

enum PolicyFormat: String, ExpressibleByArgument, CaseIterable {
    case auto, json, yaml
}

/// The POLICY argument and how to read it, shared by every subcommand.
struct PolicyInput: ParsableArguments {
    @Argument(help: "The policy file (JSON or YAML), or - for standard input.")
    var policy: String

    @Option(help: "The policy's syntax; auto picks YAML for .yaml/.yml names and for input not starting with '{'.")
    var format: PolicyFormat = .auto

    /// Reads and validates the policy. On failure prints the problems to
    /// stderr and throws the matching exit code.
    func load() throws -> Policy {
        let bytes: [UInt8]
        do {
            bytes = try readInput()
        } catch {
            printError("sgctl: can't read \(policy == "-" ? "standard input" : policy): \(error.localizedDescription)")
            throw ExitStatus.unreadable
        }
        let syntax = PolicyFile.Syntax(rawValue: format.rawValue) ?? .auto
        let result = PolicyFile.decode(bytes, name: policy == "-" ? "" : policy, syntax: syntax)
        switch result {
        case .success(let policy):
            return policy
        case .failure(let error):
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitStatus.invalidPolicy
        }
    }

    private func readInput() throws -> [UInt8] {
        if policy == "-" {
            return Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        return Array(try Data(contentsOf: URL(fileURLWithPath: policy)))
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Every `--output json`: sorted keys, so equal answers print equal bytes.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
