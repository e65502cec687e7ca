/// Renders rows as a left-aligned text table with a header, for people (scripts use `--json`).
///
/// The table fits ``maxWidth`` columns: when the cells are wider, the widest text columns are cut (their cells end
/// in `…`) until it fits; numbers are never cut.
struct Table {
    var headers: [String]
    var rows: [[String]]
    /// Columns whose cells are right-aligned (numbers).
    var numeric: Set<Int> = []
    /// Text columns never cut to fit (times); numbers are never cut either.
    var fixed: Set<Int> = []
    /// The widest a line may be.
    var maxWidth = 100

    /// The column widths: each column's widest cell, then the widest text columns narrowed until the line fits.
    func widths() -> [Int] {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        let separators = 2 * max(widths.count - 1, 0)
        // A cut column keeps at least its header and a few characters, so it still says something.
        let floors = headers.enumerated().map { index, header in numeric.contains(index) || fixed.contains(index) ? Int.max : max(header.count, 6) }
        while widths.reduce(separators, +) > maxWidth {
            let candidates = widths.indices.filter { widths[$0] > floors[$0] }
            guard let widest = candidates.max(by: { widths[$0] < widths[$1] }) else { break }
            widths[widest] -= 1
        }
        return widths
    }

    func render() -> String {
        let widths = widths()
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let cell = Self.cut(cell, to: widths[index])
                let padding = String(repeating: " ", count: max(widths[index] - cell.count, 0))
                return numeric.contains(index) ? padding + cell : cell + padding
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        return ([line(headers), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }

    /// `text` if it fits `width` characters, else its start and `…`.
    static func cut(_ text: String, to width: Int) -> String {
        guard text.count > width, width > 0 else { return text }
        return String(text.prefix(width - 1)) + "…"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
