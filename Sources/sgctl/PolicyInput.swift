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
        let result: Result<Policy, PolicyError>
        if resolvedFormat(bytes) == .yaml {
            do {
                result = PolicyDecoder.decode(try YAMLReader.parse(String(decoding: bytes, as: UTF8.self)))
            } catch {
                result = .failure(PolicyError([Diagnostic(path: "", message: "invalid YAML: \(error)")]))
            }
        } else {
            result = PolicyDecoder.decode(json: bytes)
        }
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

    private func resolvedFormat(_ bytes: [UInt8]) -> PolicyFormat {
        if format != .auto { return format }
        let lower = policy.lowercased()
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return .yaml }
        if lower.hasSuffix(".json") { return .json }
        let first = bytes.first { ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].contains($0) }
        return first == UInt8(ascii: "{") || first == nil ? .json : .yaml
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// The machine's short host name, the default for --host.
func shortHostName() -> String {
    String(ProcessInfo.processInfo.hostName.split(separator: ".").first ?? "")
}
