/// A plan as text: the one-line summary, then each section's heading and
/// its changes in aligned columns. Plans longer than `limit` lines are
/// summarised (see `summarised`).
public struct PlanRenderer: Sendable {
    public static let defaultLimit = 40
    /// Changes shown per section when summarising.
    public static let sample = 3

    public var style: TextStyle
    /// Nil: everything (`--full`).
    public var limit: Int?

    public init(style: TextStyle, limit: Int? = PlanRenderer.defaultLimit) {
        self.style = style
        self.limit = limit
    }

    public func render(_ view: PlanView) -> [String] {
        var lines = [style.paint(view.summary, .bold)]
        let full = view.sections.reduce(0) { $0 + fullLength($1) } + view.pending.count
        if let limit, full > limit {
            lines.append(style.paint("(\(full) lines, summarised: --full shows them all)", .dim))
            lines += summarised(view.sections, host: view.host, limit: limit)
            lines += pending(view.pending.prefix(Self.sample))
            if view.pending.count > Self.sample {
                lines.append(style.paint("… and \(view.pending.count - Self.sample) more pending (use --full)", .dim))
            }
        } else {
            let columns = Columns(view.sections.flatMap(\.items))
            for section in view.sections {
                lines.append(heading(section, host: view.host))
                for item in section.items { lines += itemLines(item, columns, details: true) }
            }
            lines += pending(view.pending)
        }
        return lines
    }

    func pending(_ items: some Sequence<String>) -> [String] {
        items.map { style.paint("pending:", .yellow) + " " + $0 }
    }

    func fullLength(_ section: PlanSection) -> Int {
        1 + section.items.reduce(0) { $0 + 1 + $1.details.count }
    }

    /// A long plan in at most about `limit` lines, degrading step by step:
    /// every section's counts and first few changes; else the ports' counts
    /// only (many ports changing alike is the common long plan) with the
    /// groups', profiles' and host's first changes; else counts only, the
    /// groups, profiles and host first, as many as fit, and what was left out.
    func summarised(_ sections: [PlanSection], host: String, limit: Int) -> [String] {
        let everySample = sections.map { ($0, true) }
        if length(everySample) <= limit { return layout(everySample, host: host) }
        let portCounts = sections.map { ($0, $0.subject.kind != .port) }
        if length(portCounts) <= limit { return layout(portCounts, host: host) }

        let byPriority = sections.indices.sorted { a, b in
            (sections[a].subject.kind == .port ? 1 : 0, a) < (sections[b].subject.kind == .port ? 1 : 0, b)
        }
        let shown = Set(byPriority.prefix(max(1, limit - 1)))
        var lines = layout(sections.indices.filter(shown.contains).map { (sections[$0], false) }, host: host)
        let rest = sections.indices.filter { !shown.contains($0) }.map { sections[$0] }
        if !rest.isEmpty {
            let byKind = Dictionary(grouping: rest, by: \.subject.kind)
            let what = PlanSubject.Kind.allCases.compactMap { kind in
                byKind[kind].map { kind == .host ? "the host-wide objects" : kind.noun.counted($0.count) }
            }
            let changes = rest.reduce(0) { $0 + $1.items.count }
            lines.append(style.paint("… and \(rest.count) more: \(what.joined(separator: ", ")); \(Noun("change").counted(changes)) (use --full)", .dim))
        }
        return lines
    }

    /// Lines of sections shown with their first changes (`true`) or with their counts only.
    func length(_ plan: [(PlanSection, Bool)]) -> Int {
        plan.reduce(0) { sum, entry in
            let (section, sampled) = entry
            guard sampled else { return sum + 1 }
            return sum + 1 + min(section.items.count, Self.sample) + (section.items.count > Self.sample ? 1 : 0)
        }
    }

    func layout(_ plan: [(PlanSection, Bool)], host: String) -> [String] {
        let columns = Columns(plan.flatMap { section, sampled in sampled ? Array(section.items.prefix(Self.sample)) : [] })
        var lines: [String] = []
        for (section, sampled) in plan {
            lines.append(heading(section, host: host))
            guard sampled else { continue }
            for item in section.items.prefix(Self.sample) { lines += itemLines(item, columns, details: false) }
            if section.items.count > Self.sample {
                lines.append(style.paint("    … and \(section.items.count - Self.sample) more", .dim))
            }
        }
        return lines
    }

    func heading(_ section: PlanSection, host: String) -> String {
        let title = style.paint(section.subject.title(host: host) + (section.pending ? ", device not there yet (pending)" : ""), .bold)
        return "\(title): \(section.counts.description)"
    }

    func itemLines(_ item: PlanItem, _ columns: Columns, details: Bool) -> [String] {
        var text = "  \(item.change.rawValue) \(pad(item.object, columns.object))  \(pad(item.place, columns.place))"
        if !item.value.isEmpty || item.note != nil { text += "  " + (item.note == nil ? item.value : pad(item.value, columns.value)) }
        if let note = item.note { text += "  (\(note))" }
        var lines = [style.paint(trimmingTrailingSpaces(text), item.change)]
        if details {
            for detail in item.details {
                lines.append(style.paint("      \(detail.change?.rawValue ?? " ") \(detail.text)", detail.change))
            }
        }
        return lines
    }

    /// Column widths over the items shown, so that the columns line up
    /// across sections. Values are padded only where a note follows them,
    /// and not beyond a width that would push notes off a screen.
    struct Columns {
        var object = 0
        var place = 0
        var value = 0

        init(_ items: some Sequence<PlanItem>) {
            for item in items {
                object = max(object, item.object.count)
                place = max(place, item.place.count)
                if item.note != nil { value = max(value, min(item.value.count, 48)) }
            }
        }
    }

    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    func trimmingTrailingSpaces(_ text: String) -> String {
        var text = text
        while text.last == " " { text.removeLast() }
        return text
    }
}
