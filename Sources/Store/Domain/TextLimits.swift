/// Bounds on the free texts a user may store, so one request cannot bloat every replica's ledger.
public enum TextLimits {
    public static let name = 200
    public static let description = 2_000
    public static let reason = 500
    public static let reference = 200
    public static let actor = 64

    /// Checked on local writes only: a merge never refuses a remote operation for its text (nodes would diverge).
    ///
    /// - Throws: `StoreError.invalidInput` when `text` is longer than `limit` characters, holds control characters
    ///   other than tab and newline, or bidirectional controls (``isBidiControl(_:)``).
    public static func validate(_ text: String, field: String, limit: Int, allowEmpty: Bool = true) throws(StoreError) {
        if !allowEmpty && text.trimmingSpaces.isEmpty { throw .invalidInput("\(field) must not be empty") }
        guard text.count <= limit else { throw .invalidInput("\(field) is too long (at most \(limit) characters)") }
        let controls = text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" && $0 != "\n" || $0.value == 0x7F }
        guard !controls else { throw .invalidInput("\(field) contains control characters") }
        guard !text.unicodeScalars.contains(where: isBidiControl) else {
            throw .invalidInput("\(field) contains bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)")
        }
    }

    /// Whether `scalar` changes the direction of the text around it: the embeddings and overrides U+202A-U+202E,
    /// the isolates U+2066-U+2069, the marks U+200E, U+200F and U+061C.
    ///
    /// Why refused: such a character makes a name display as another one (`\u{202E}` turns `gpj.exe` around), in
    /// the CLI, in a spreadsheet of an export, in a log.
    public static func isBidiControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: true
        default: false
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
