/// A trace as `sgctl trace` prints it: the packet and its ends, the numbered
/// steps with the rule behind each finding, the verdict, then the answer.
public enum TraceText {
    public static func render(_ trace: Trace) -> String {
        var out = "trace \(trace.packet)\n"
        out += "  from \(trace.source.summary)\n"
        out += "  to   \(trace.destination.summary)\n\n"
        var number = 0
        out += steps(trace.steps, &number)
        out += "verdict: \(trace.verdict.rawValue) (\(trace.reason))\n"
        if let reply = trace.reply {
            out += "\nreply \(reply.packet)\n"
            out += steps(reply.steps, &number)
            out += "reply verdict: \(reply.verdict.rawValue) (\(reply.reason))\n"
        }
        return out
    }

    private static func steps(_ steps: [TraceStep], _ number: inout Int) -> String {
        var out = ""
        for step in steps {
            number += 1
            out += "\(number). \(step.title)\n"
            for finding in step.findings {
                let topic = finding.topic.rawValue
                out += "     " + topic + String(repeating: " ", count: max(1, 17 - topic.count)) + finding.text + "\n"
                if let location = finding.location { out += String(repeating: " ", count: 22) + "at \(location)\n" }
            }
        }
        return out
    }
}
