import CRDT
import Foundation
import NIOCore
import PropertyBased
import Store
@testable import SyncServer
import Testing

/// The hand-written answers must be byte-identical to what `JSONEncoder` (sorted keys) and
/// `Date.ISO8601FormatStyle` write, so clients never see two formats.
@Suite("Hand-written JSON and timestamps match Foundation's")
struct HandWrittenJSONTests {
    @Test("timestamps: same text as ISO8601FormatStyle with fractional seconds, exact to the millisecond")
    func timestamps() async {
        let edges: [UInt64] = [0, 999, 1_000, 86_399_999, 951_782_400_000, 4_107_542_399_999, 253_402_300_799_999]
        for milliseconds in edges { #expect(API.timestamp(milliseconds: milliseconds) == Self.foundation(milliseconds)) }
        await propertyCheck(count: 2_000, input: Gen.int(in: 0...253_402_300_799_999)) { raw in
            let milliseconds = UInt64(raw)
            #expect(API.timestamp(milliseconds: milliseconds) == Self.foundation(milliseconds))
        }
    }

    /// Foundation's text for the whole second, with the exact millisecond: the format style computes the fraction
    /// through a `Double` and can write .998 for .999 (the hand-written one is exact).
    static func foundation(_ milliseconds: UInt64) -> String {
        let whole = Date(timeIntervalSince1970: Double(milliseconds / 1_000))
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        #expect(whole.hasSuffix(".000Z"))
        let fraction = String(milliseconds % 1_000)
        return whole.dropLast(4) + String(repeating: "0", count: 3 - fraction.count) + fraction + "Z"
    }

    static let awkward = Gen.element(of: [
        nil, "", "plain", "quote \" and backslash \\", "slash / and </script>", "tab\tnewline\nreturn\r", "\u{0}\u{1}\u{1F}\u{7F}",
        "bell\u{7}formfeed\u{C}backspace\u{8}", "naïve café 倉庫 📦", "\u{2028}\u{2029}",
    ] as [String?]).map { $0 ?? nil }

    @Test("movements: same bytes as JSONEncoder with sorted keys")
    func movements() async throws {
        let kinds = OperationKind.allCases
        await propertyCheck(
            count: 500, input: Self.awkward, Self.awkward, Self.awkward, Gen.int(in: -1_000_000_000...1_000_000_000),
            Gen.int(in: 0...(kinds.count - 1))
        ) { reason, reference, user, delta, kind in
            let record = MovementRecord(
                id: MovementID.generate(), type: kinds[kind], sku: "SKU-1", warehouse: reason == nil ? nil : "MAD",
                quantity: Int64(abs(delta)), delta: Int64(delta), origin: "MAD", sequence: UInt64(abs(delta)),
                timestamp: HLCTimestamp(rawValue: UInt64(abs(delta)) << 16), user: user ?? "admin", reason: reason,
                reference: reference, transferID: reference == nil ? nil : MovementID.generate(), counterpart: user == nil ? nil : "SEV")
            let movement = API.Movement(record)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let expected = try encoder.encode(movement)
            #expect(Array(movement.sortedJSON().readableBytesView) == Array(expected))
        }
    }
}
