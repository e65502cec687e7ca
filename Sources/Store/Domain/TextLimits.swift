/// Bounds on the free texts a user may store, so one request cannot bloat every replica's ledger.
public enum TextLimits {
    public static let name = 200
    public static let description = 2_000
    public static let reason = 500
    public static let reference = 200
    public static let actor = 64

    /// - Throws: `StoreError.invalidInput` when `text` is longer than `limit` characters or holds control characters
    ///   other than tab and newline.
    public static func validate(_ text: String, field: String, limit: Int, allowEmpty: Bool = true) throws(StoreError) {
        if !allowEmpty && text.trimmingSpaces.isEmpty { throw .invalidInput("\(field) must not be empty") }
        guard text.count <= limit else { throw .invalidInput("\(field) is too long (at most \(limit) characters)") }
        let controls = text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" && $0 != "\n" || $0.value == 0x7F }
        guard !controls else { throw .invalidInput("\(field) contains control characters") }
    }
}

extension String {
    var trimmingSpaces: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
