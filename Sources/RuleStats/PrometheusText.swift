/// The counters in Prometheus' text exposition format, for sgd's /metrics.
/// They are read from the kernel at each scrape rather than mirrored into
/// swift-metrics counters: the kernel holds the values, and a copy would
/// only lag behind it. A counter the kernel starts again (its chain was
/// rewritten) reads as a counter reset, which Prometheus' rate() expects.
public enum PrometheusText {
    public static func render(_ rows: [StatsRow]) -> String {
        var families: [(name: String, help: String, samples: [String])] = [
            ("sgd_rule_packets_total", "Packets a security-group rule accepted, for all of the group's ports on this host.", []),
            ("sgd_rule_bytes_total", "Bytes a security-group rule accepted, for all of the group's ports on this host.", []),
            ("sgd_port_dropped_packets_total", "Packets of a port that no rule of its groups allowed.", []),
            ("sgd_port_dropped_bytes_total", "Bytes of a port that no rule of its groups allowed.", []),
            ("sgd_invalid_dropped_packets_total", "Packets conntrack found invalid, by the groups of the ports they were for or from.", []),
            ("sgd_port_security_dropped_packets_total", "Frames the port-security checks dropped, by check.", []),
        ]
        func add(_ family: Int, _ labels: [(String, String)], _ value: UInt64) {
            let text = labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",")
            families[family].samples.append("\(families[family].name){\(text)} \(value)")
        }
        for row in rows {
            let direction = ("direction", row.direction?.rawValue ?? "")
            switch row.kind {
            case .rule:
                let labels = [("group", row.groups.first ?? ""), ("rule", row.rule.map(String.init) ?? ""), direction, ("description", row.description ?? "")]
                add(0, labels, row.packets)
                add(1, labels, row.bytes)
            case .defaultDrop:
                let labels = [("port", row.port ?? ""), ("device", row.device ?? ""), direction]
                add(2, labels, row.packets)
                add(3, labels, row.bytes)
            case .invalid:
                add(4, [("groups", row.groups.joined(separator: ",")), direction], row.packets)
            case .portSecurity:
                add(5, [("check", row.description ?? "")], row.packets)
            }
        }
        return families.filter { !$0.samples.isEmpty }.map { family in
            (["# HELP \(family.name) \(family.help)", "# TYPE \(family.name) counter"] + family.samples).joined(separator: "\n") + "\n"
        }.joined()
    }

    /// Label values escape backslash, double quote and newline.
    static func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
