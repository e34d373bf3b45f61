import Foundation

/// A plain-text table: the first and last columns left-aligned (names and
/// notes), the others right-aligned (figures).
struct Table {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            header.indices.map { column in
                let cell = cells.indices.contains(column) ? cells[column] : ""
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 || column == header.count - 1 ? cell + pad : pad + cell
            }.joined(separator: "  ").trailingSpacesRemoved
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

extension Measurement {
    var row: [String] {
        let status: String = switch passed {
        case true?: "PASS"
        case false?: "MISS"
        case nil: ""
        }
        return [name, Format.value(value, unit), target.map { "< " + Format.value($0, unit) } ?? "", status, note ?? ""]
    }
}

enum Format {
    static func value(_ value: Double, _ unit: Measurement.Unit) -> String {
        switch unit {
        case .milliseconds:
            if value >= 1000 { return String(format: "%.3f s", value / 1000) }
            if value >= 10 { return String(format: "%.1f ms", value) }
            return String(format: "%.2f ms", value)
        case .bytes:
            return String(format: "%.1f MiB", value / 1_048_576) + " (\(grouped(Int(value))) B)"
        case .kibibytes:
            return String(format: "%.1f MiB", value / 1024)
        case .count:
            return grouped(Int(value))
        }
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }
}

extension String {
    fileprivate var trailingSpacesRemoved: String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
