/// The rules that differ between a chain's old and new rule lists, in
/// order: a chain replacement shown as what it changes, not as the whole
/// chain again. A longest-common-subsequence diff of the rules' text;
/// chains hold tens of rules, so the quadratic table is cheap, and longer
/// ones are not diffed at all (`nil`).
public enum RuleDiff {
    public static let maxCells = 250_000

    public static func changes(from old: [String], to new: [String]) -> [PlanItem.Detail]? {
        let (n, m) = (old.count, new.count)
        guard n * m <= maxCells else { return nil }
        // common[i][j]: the length of the longest common subsequence of old[i...] and new[j...].
        var common = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                common[i][j] = old[i] == new[j] ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var details: [PlanItem.Detail] = []
        var (i, j) = (0, 0)
        while i < n || j < m {
            if i < n, j < m, old[i] == new[j] {
                i += 1
                j += 1
            } else if i < n, j == m || common[i + 1][j] >= common[i][j + 1] {
                // Removals first where either order fits, as diff(1) writes them.
                details.append(.init(.removed, old[i]))
                i += 1
            } else {
                details.append(.init(.added, new[j]))
                j += 1
            }
        }
        return details
    }
}
