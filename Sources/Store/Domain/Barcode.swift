/// A product barcode: a GS1 EAN-13, EAN-8 or UPC-A code whose check digit is right.
///
/// GS1's rule: weight the digits before the check digit 3, 1, 3, 1, … counting from the rightmost one, sum them, and
/// the check digit is what takes the sum to the next multiple of 10. The rule catches every single wrong digit and
/// most swaps of two neighbours, which is why a scanner's misread is refused here rather than stored.
public struct Barcode: Hashable, Comparable, Sendable, CheckedText {
    public let rawValue: String

    /// The symbologies taken, by length: EAN-8 (8 digits), UPC-A (12), EAN-13 (13).
    public enum Kind: String, Sendable {
        case ean8 = "EAN-8"
        case upcA = "UPC-A"
        case ean13 = "EAN-13"
    }

    public var kind: Kind {
        switch rawValue.utf8.count {
        case 8: .ean8
        case 12: .upcA
        default: .ean13
        }
    }

    /// - Throws: `StoreError.invalidInput` for anything but 8, 12 or 13 digits with the right check digit.
    public init(_ raw: String) throws(StoreError) {
        let digits = Array(raw.utf8)
        guard [8, 12, 13].contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .invalidInput("a barcode is 8 (EAN-8), 12 (UPC-A) or 13 (EAN-13) digits, got \(raw.debugDescription.prefix(40))")
        }
        let expected = Self.checkDigit(digits.dropLast().map { Int($0 - 0x30) })
        guard Int(digits[digits.count - 1] - 0x30) == expected else {
            throw .invalidInput("barcode \(raw) has a wrong check digit: it should end in \(expected)")
        }
        rawValue = raw
    }

    /// The GS1 check digit of `payload` (the digits before it, most significant first).
    public static func checkDigit(_ payload: [Int]) -> Int {
        var sum = 0
        for (offset, digit) in payload.reversed().enumerated() { sum += digit * (offset % 2 == 0 ? 3 : 1) }
        return (10 - sum % 10) % 10
    }

    public static func isValid(_ raw: String) -> Bool { (try? Barcode(raw)) != nil }

    public static func < (lhs: Barcode, rhs: Barcode) -> Bool { lhs.rawValue < rhs.rawValue }
}
