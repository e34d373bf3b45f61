/// `sgctl stats` as a table: one row per counter, numbers right-aligned.
public enum StatsText {
    public static let header = ["direction", "group", "rule", "port", "packets", "bytes", "what"]

    public static func render(_ rows: [StatsRow]) -> [String] {
        let cells = [header] + rows.map(cells)
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        let numeric: Set<Int> = [4, 5]
        return cells.map { row in
            row.indices.map { column in
                let cell = row[column]
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column == row.count - 1 { return cell }
                return numeric.contains(column) ? padding + cell : cell + padding
            }
            .joined(separator: "  ")
            .trimmingTrailingSpaces()
        }
    }

    static func cells(_ row: StatsRow) -> [String] {
        let port = row.port.map { name in row.device.map { "\(name) (\($0))" } ?? name } ?? row.device ?? ""
        let what: String
        switch row.kind {
        case .rule: what = "accepted" + (row.description.map { ": \($0)" } ?? "")
        case .defaultDrop: what = "dropped: no rule of its groups allows it"
        case .invalid: what = "dropped as invalid by conntrack" + (row.groups.isEmpty ? " (ports without groups)" : "")
        case .portSecurity: what = "dropped by port security: \(row.description ?? "")"
        }
        return [
            row.direction?.rawValue ?? "", row.groups.joined(separator: ","), row.rule.map(String.init) ?? "", port,
            String(row.packets), String(row.bytes), what,
        ]
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
