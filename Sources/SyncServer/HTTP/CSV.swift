import Foundation

/// The CSV the product writes (history, reports) and reads back (imports): RFC 4180 quoting, and the OWASP rule
/// against formula injection.
///
/// Why the rule: a spreadsheet opening an export runs a cell that begins with `=`, `+`, `-` or `@` as a formula
/// (`=HYPERLINK(...)` in a movement's reason becomes a link that leaks the sheet; tab and carriage return can start
/// one too). So a text cell that begins with one of those, or with `'`, is written with a `'` before it: the
/// spreadsheet shows it as text, and hides the `'`. Numeric columns (quantities, deltas, sequences) are written as
/// numbers, never prefixed. ``read(_:)`` removes the one `'` again, so export then import gives the original text.
public enum CSV {
    /// A cell of a line being written.
    public enum Cell: Sendable, Equatable {
        /// Free text, neutralised and quoted as needed.
        case text(String)
        /// A whole number, written as it is (a negative one begins with `-`, and is a number).
        case number(Int64)
    }

    /// Characters that make a spreadsheet read a cell as a formula, and `'`, which marks a neutralised cell.
    static let neutralisedStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r", "'"]

    /// One line, with its `\n`.
    public static func line(_ cells: [Cell]) -> String {
        cells.map { cell in
            switch cell {
            case .text(let text): field(text)
            case .number(let number): String(number)
            }
        }.joined(separator: ",") + "\n"
    }

    /// A text cell as written: `'` before a formula start, then quoted when it holds `,`, `"`, CR or LF.
    public static func field(_ text: String) -> String {
        let neutral = text.unicodeScalars.first.map(neutralisedStarts.contains) == true ? "'" + text : text
        guard neutral.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return neutral
        }
        return "\"" + neutral.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The rows of a CSV text as written by ``line(_:)``: quotes undone, and the `'` of a neutralised cell removed.
    ///
    /// Lines end with LF or CRLF (outside quotes); a final line ending adds no empty row. A quote in an unquoted
    /// field, or text after a closing quote, is kept as it is.
    public static func read(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var started = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endField() {
            row.append(field.unicodeScalars.first == "'" ? String(field.unicodeScalars.dropFirst()) : field)
            field = ""
            started = false
        }
        func endRow() {
            endField()
            rows.append(row)
            row = []
        }
        while let scalar = pending ?? scalars.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    let next = scalars.next()
                    if next == "\"" { field.unicodeScalars.append("\"") } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where !started && field.isEmpty:
                quoted = true
                started = true
            case ",":
                endField()
            case "\n":
                endRow()
            case "\r":
                let next = scalars.next()
                if next == "\n" { endRow() } else {
                    field.unicodeScalars.append(scalar)
                    started = true
                    pending = next
                }
            default:
                field.unicodeScalars.append(scalar)
                started = true
            }
        }
        if started || !field.isEmpty || !row.isEmpty { endRow() }
        return rows
    }
}
