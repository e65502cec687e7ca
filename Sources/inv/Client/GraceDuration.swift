import ArgumentParser

/// A length of time typed on the command line: a whole number with a unit, `s`, `m`, `h` or `d` (`90s`, `10m`,
/// `2h`, `1d`); a bare number is seconds.
///
/// Invariant: ``seconds`` is at least 0 and at most ``maximumSeconds`` (30 days, the longest grace period the API
/// accepts), so an overflow or a typo such as `10y` is refused here, with a clear message, before any request.
struct GraceDuration: ExpressibleByArgument, Equatable {
    /// 30 days.
    static let maximumSeconds: Int64 = 30 * 86_400

    let seconds: Int64

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var digits = Substring(argument)
        var unit: Int64 = 1
        if let last = argument.last, let multiplier = units[last] {
            digits = digits.dropLast()
            unit = multiplier
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let count = Int64(digits) else {
            return nil
        }
        let (seconds, overflow) = count.multipliedReportingOverflow(by: unit)
        guard !overflow, seconds <= Self.maximumSeconds else { return nil }
        self.seconds = seconds
    }

}
