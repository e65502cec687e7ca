/// A stock-keeping unit code: 1–64 characters of `[A-Za-z0-9._-]`.
public struct SKU: Hashable, Comparable, Sendable, CheckedText {
    public let rawValue: String

    public init(_ raw: String) throws(StoreError) {
        guard SKU.isValid(raw) else { throw .invalidInput("sku must be 1-64 characters of A-Z a-z 0-9 . _ -, got \(raw.debugDescription.prefix(80))") }
        rawValue = raw
    }

    public static func isValid(_ raw: String) -> Bool {
        let bytes = raw.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    public static func < (lhs: SKU, rhs: SKU) -> Bool { lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8) }
}
