import ArgumentParser

/// A length of time typed on the command line: a whole number with a unit, `s`, `m`, `h` or `d` (`90s`, `10m`,
/// `2h`, `1d`); a bare number is seconds.
///
/// Invariant: ``seconds`` is at least 0 and at most ``maximumSeconds`` (30 days, the longest grace period the API
/// accepts), so an overflow or a typo such as `10y` is refused here, with a clear message, before any request.
struct GraceDuration: Equatable {
    /// 30 days.
    static let maximumSeconds: Int64 = 30 * 86_400

    let seconds: Int64

    /// Reads `argument`, the value of the option `option` (named in the error).
    ///
    /// - Throws: `ValidationError` saying what is wrong: not a number with a unit, negative, or above 30 days.
    init(_ argument: String, option: String) throws {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var digits = Substring(argument)
        var unit: Int64 = 1
        if let last = argument.last, let multiplier = units[last] {
            digits = digits.dropLast()
            unit = multiplier
        }
        if digits.first == "-", digits.count > 1, digits.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw ValidationError("\(option) cannot be negative, got \(argument)")
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            let got = argument.isEmpty ? "nothing" : argument
            throw ValidationError("\(option) must be a whole number with a unit s, m, h or d (e.g. 90s, 10m, 2h, 1d), got \(got)")
        }
        // Digits too many for an Int64, or a product that overflows, are far above the limit too.
        let (seconds, overflow) = (Int64(digits) ?? .max).multipliedReportingOverflow(by: unit)
        guard !overflow, seconds <= Self.maximumSeconds else {
            let days = Self.maximumSeconds / 86_400
            throw ValidationError("\(option) must be at most \(days) days (\(days)d), got \(argument)")
        }
        self.seconds = seconds
    }
}
