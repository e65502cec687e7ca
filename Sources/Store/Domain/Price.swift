/// A non-negative price as an exact decimal, kept as its canonical decimal string (never a floating point).
///
/// Canonical form: no sign, no leading zeros before the point (except a single `0`), at most 4 fraction digits,
/// the fraction digits as given (so `12.50` stays `12.50`). At most 12 integer digits.
public struct Price: Hashable, Sendable, CheckedText {
    public let rawValue: String

    public init(_ raw: String) throws(StoreError) {
        let parts = raw.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integer = parts[0]
        let fraction = parts.count == 2 ? parts[1] : nil
        func digits(_ text: Substring) -> Bool { !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard digits(integer), fraction.map(digits) ?? true, (fraction?.count ?? 0) <= 4 else {
            throw .invalidInput("price must be a decimal like 12.50 (at most 4 decimals), got \(raw.debugDescription.prefix(40))")
        }
        var trimmed = integer.drop { $0 == "0" }
        if trimmed.isEmpty { trimmed = "0" }
        guard trimmed.count <= 12 else { throw .invalidInput("price is too large (at most 12 integer digits)") }
        rawValue = fraction.map { "\(trimmed).\($0)" } ?? String(trimmed)
    }
}
