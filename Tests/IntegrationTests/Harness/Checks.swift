import Foundation
import Testing

/// One reachability check: `from` sends `traffic` to `address`, and it must
/// get through or must not.
struct Check: Sendable {
    let from: VM
    let traffic: Traffic
    let address: String
    let passes: Bool
    let sourceLocation: SourceLocation
    /// Why trace can't be compared with this check's packets (TraceAgreement).
    var untracedReason: String?

    var description: String {
        "\(from.name) -> \(address) \(traffic) should \(passes ? "pass" : "be blocked")"
    }

    /// The same check, not compared with trace: for a kernel state the
    /// policy doesn't describe. Say which, and why.
    func untraced(_ reason: String) -> Check {
        var check = self
        check.untracedReason = reason
        return check
    }
}

extension VM {
    func reaches(_ address: String, _ traffic: Traffic, sourceLocation: SourceLocation = #_sourceLocation) -> Check {
        Check(from: self, traffic: traffic, address: address, passes: true, sourceLocation: sourceLocation)
    }

    func doesNotReach(_ address: String, _ traffic: Traffic, sourceLocation: SourceLocation = #_sourceLocation) -> Check {
        Check(from: self, traffic: traffic, address: address, passes: false, sourceLocation: sourceLocation)
    }
}

extension Topology {
    /// Runs the checks concurrently (negative checks each cost their 1 s
    /// timeout) and records an issue, with the probe's output and the hosts'
    /// state, for each one that comes out wrong. A check expected to pass
    /// gets a second try, so that a loaded machine doesn't fail it; one
    /// expected to be blocked gets one packet. Each check is also traced,
    /// and an issue recorded where trace disagrees with the packets.
    func expect(_ checks: [Check]) async {
        let results = await withTaskGroup(of: (Int, CommandOutput?).self) { group in
            for (i, check) in checks.enumerated() {
                group.addTask {
                    // A probe that never finished said nothing either way: it is tried again too.
                    var last: CommandOutput?
                    for _ in 0..<2 {
                        last = try? await check.from.attempt(check.traffic, to: check.address)
                        guard let output = last, output.finished else { continue }
                        if output.succeeded || !check.passes { break }
                    }
                    return (i, last)
                }
            }
            var results = [CommandOutput?](repeating: nil, count: checks.count)
            for await (i, output) in group { results[i] = output }
            return results
        }
        for (check, output) in zip(checks, results) {
            guard let output else {
                await fail("\(check.description), but its probe could not be started", check.sourceLocation)
                continue
            }
            guard output.finished else {
                // Not counted as blocked: a check expected to be blocked must see its probe fail.
                await fail("\(check.description), but its probe gave no answer: \(output)", check.sourceLocation)
                continue
            }
            if output.succeeded != check.passes {
                await fail("\(check.description), but \(check.passes ? "it did not" : "it passed"): \(output)", check.sourceLocation)
            }
        }
        var compared = 0
        var excluded: [String] = []
        for (check, output) in zip(checks, results) {
            let packetsPassed = output.flatMap { $0.finished ? $0.succeeded : nil }
            switch TraceAgreement.compare(check, packetsPassed: packetsPassed, ledger: ledger) {
            case .agreed: compared += 1
            case .excluded(let reason): excluded.append(reason)
            case .disagreed(let message):
                compared += 1
                await fail(message, check.sourceLocation)
            }
        }
        print(await TraceTally.shared.add(tag, compared: compared, excluded: excluded))
    }

    /// Records an issue unless `condition` holds; use for checks other than reachability.
    func expect(_ condition: Bool, _ message: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) async {
        if !condition { await fail(message(), sourceLocation) }
    }
}

extension Child {
    var lines: [String] { stdout.split(whereSeparator: \.isNewline).map(String.init) }
}
