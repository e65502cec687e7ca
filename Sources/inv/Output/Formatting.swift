import Foundation
import SyncServer

/// How numbers, prices and times are written for people: one way everywhere.
///
/// Tables and sentences group thousands (`30,083`); JSON and CSV never do (they print the numbers as they are).
enum Formatting {
    /// A whole number with comma thousand separators: `-20,005`.
    static func count(_ value: some BinaryInteger) -> String { SyncProgress.grouped(value) }

    /// A signed change: `+20`, `-3`, `0`.
    static func signed(_ value: Int64) -> String { value > 0 ? "+" + count(value) : count(value) }

    /// A decimal price with two decimals and grouped thousands: `12.5` -> `12.50`, `1234` -> `1,234.00`.
    /// Text that is not a plain decimal is shown as it is.
    static func price(_ text: String) -> String {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), parts[0].first != "+" else { return text }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.allSatisfy(\.isASCII), fraction.allSatisfy(\.isNumber) else { return text }
        if fraction.count < 2 { fraction += String(repeating: "0", count: 2 - fraction.count) }
        let sign = parts[0].hasPrefix("-") && whole == 0 ? "-" : ""
        return sign + count(whole) + "." + fraction
    }

    /// A timestamp of the API (`2026-12-02T14:02:11.123Z`) in local time, `2026-12-02 15:02:11`, or in UTC with a
    /// `Z` when `utc`; the text unchanged if it does not parse.
    static func time(_ timestamp: String, utc: Bool = false, timeOnly: Bool = false) -> String {
        guard let date = parse(timestamp) else { return timestamp }
        return time(date, utc: utc, timeOnly: timeOnly)
    }

    static func time(_ date: Date, utc: Bool = false, timeOnly: Bool = false) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let clock = String(format: "%02d:%02d:%02d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
        if timeOnly { return clock }
        return String(format: "%04d-%02d-%02d ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0) + clock + (utc ? "Z" : "")
    }

    static func parse(_ timestamp: String) -> Date? {
        (try? Date(timestamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(timestamp, strategy: Date.ISO8601FormatStyle()))
    }

    /// How long ago, in the largest whole unit: `just now`, `42 s ago`, `3 min ago`, `2 h ago`, `5 days ago`.
    static func age(_ seconds: TimeInterval) -> String {
        let seconds = Int(max(seconds, 0))
        switch seconds {
        case ..<5: return "just now"
        case ..<60: return "\(seconds) s ago"
        case ..<3_600: return "\(seconds / 60) min ago"
        case ..<86_400: return "\(seconds / 3_600) h ago"
        default:
            let days = seconds / 86_400
            return days == 1 ? "1 day ago" : "\(count(days)) days ago"
        }
    }

    /// A delay, in milliseconds below a second, then in the largest whole unit: `12 ms`, `3.4 s`, `5 min`, `2 h`.
    static func delay(milliseconds: UInt64) -> String {
        switch milliseconds {
        case ..<1_000: return "\(milliseconds) ms"
        case ..<60_000: return String(format: "%.1f s", Double(milliseconds) / 1_000)
        case ..<3_600_000: return "\(milliseconds / 60_000) min"
        default: return "\(count(milliseconds / 3_600_000)) h"
        }
    }

    /// A date or date-time typed by a person, as the UTC instant the API takes.
    ///
    /// `2026-12-02` is local midnight; `2026-12-02T12:00` or `2026-12-02 12:00:00` without a zone is local time;
    /// anything with a zone (`Z`, `+01:00`) is passed on unchanged. `nil` for text that is none of these (the node
    /// then explains what it takes).
    static func instant(_ text: String, utc: Bool = false) -> String? {
        if parse(text) != nil { return text }
        let zone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        for pattern in ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = zone
            formatter.dateFormat = pattern
            formatter.isLenient = false
            if let date = formatter.date(from: text) {
                return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            }
        }
        return nil
    }
}

/// What goes to a terminal: colour only there, and never with `NO_COLOR` set (https://no-color.org).
enum Terminal {
    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    static var colour: Bool {
        let environment = ProcessInfo.processInfo.environment
        return stdoutIsTerminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }

    /// `text` in bold red when colour is on.
    static func alert(_ text: String, colour: Bool) -> String { colour ? "\u{1B}[1;31m\(text)\u{1B}[0m" : text }

    /// `text` in green when colour is on.
    static func good(_ text: String, colour: Bool) -> String { colour ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
}
