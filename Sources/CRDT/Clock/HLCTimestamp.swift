/// A hybrid logical clock timestamp: 48 bits of physical milliseconds and 16 bits of logical counter,
/// packed into one `UInt64`.
///
/// `rawValue = physicalMilliseconds << 16 | logical`. Because the physical part occupies the high bits,
/// the order of timestamps is simply the order of their raw values, and "the next timestamp" is
/// `rawValue + 1`: when the logical counter overflows it carries into the physical part, which keeps the
/// sequence strictly increasing.
///
/// 48 bits of milliseconds reach past the year 10 000, so the physical part never needs to wrap.
///
/// Encodes as a single JSON number (the raw value).
public struct HLCTimestamp: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The largest physical time representable: `2^48 - 1` milliseconds.
    public static let maxPhysicalMilliseconds: UInt64 = (1 << 48) - 1

    /// The smallest timestamp, earlier than every timestamp a clock produces.
    public static let zero = HLCTimestamp(rawValue: 0)

    /// The largest timestamp.
    public static let max = HLCTimestamp(rawValue: .max)

    /// The packed representation, `physicalMilliseconds << 16 | logical`.
    public let rawValue: UInt64

    /// Creates a timestamp from its packed representation.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// Creates a timestamp from its parts.
    ///
    /// - Precondition: `physicalMilliseconds <= HLCTimestamp.maxPhysicalMilliseconds`.
    public init(physicalMilliseconds: UInt64, logical: UInt16) {
        precondition(
            physicalMilliseconds <= Self.maxPhysicalMilliseconds,
            "physical time \(physicalMilliseconds) ms does not fit in 48 bits")
        rawValue = physicalMilliseconds << 16 | UInt64(logical)
    }

    /// Milliseconds since the Unix epoch (as read from, or carried forward from, some replica's clock).
    public var physicalMilliseconds: UInt64 { rawValue >> 16 }

    /// The logical counter that orders events within one millisecond.
    public var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// The timestamp immediately after this one, or `nil` for ``max``.
    public var successor: HLCTimestamp? {
        rawValue == .max ? nil : HLCTimestamp(rawValue: rawValue + 1)
    }

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `physical:logical`, for example `1718000000000:3`.
    public var description: String { "\(physicalMilliseconds):\(logical)" }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
