import CRDT
import Foundation
import NIOCore
import PropertyBased
@testable import Store
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

    @Test("every timestamp the API writes parses back to its millisecond (history?since=, started_at)")
    func timestampsParseBack() async {
        let edges: [UInt64] = [0, 843, 1_764_738_471_843, 253_402_300_799_999]
        for milliseconds in edges { #expect(DateParsing.milliseconds(API.timestamp(milliseconds: milliseconds)) == milliseconds) }
        await propertyCheck(count: 2_000, input: Gen.int(in: 0...253_402_300_799_999)) { raw in
            let milliseconds = UInt64(raw)
            #expect(DateParsing.milliseconds(API.timestamp(milliseconds: milliseconds)) == milliseconds)
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
                reference: reference, transferID: reference == nil ? nil : MovementID.generate(), counterpart: user == nil ? nil : "SEV",
                document: reason == nil ? nil : MovementID.generate())
            let movement = API.Movement(record)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let expected = try encoder.encode(movement)
            #expect(Array(movement.sortedJSON().readableBytesView) == Array(expected))
            // The event of the same movement, with its warehouse's stock or without.
            for onHand in [nil, 0, Int64(delta), Int64.min, Int64.max] as [Int64?] {
                let event = EventsController.MovementEvent(movement: movement, onHand: onHand)
                #expect(Array(event.sortedJSON().readableBytesView) == Array(try encoder.encode(event)))
            }
        }
    }
    /// A random change-feed page: awkward texts, extreme numbers, any number of entries and waiting origins.
    static func page(_ texts: [String?], _ numbers: [Int], more: Bool) -> API.ChangesPage {
        let kinds = OperationKind.allCases
        var changes: [API.Change] = []
        for (index, number) in numbers.enumerated() {
            let text = texts[index % texts.count]
            let extreme: [Int64] = [0, 1, -1, Int64.max, Int64.min, Int64(number)]
            let record = MovementRecord(
                id: MovementID.generate(), type: kinds[abs(number) % kinds.count], sku: "SKU-\(index)",
                warehouse: text == nil ? nil : "MAD", quantity: extreme[(index + 1) % extreme.count],
                delta: extreme[index % extreme.count], origin: "MAD",
                sequence: index % 3 == 0 ? UInt64.max : UInt64(abs(number)),
                timestamp: HLCTimestamp(rawValue: UInt64(abs(number)) << 16), user: text ?? "admin", reason: text,
                reference: texts[(index + 1) % texts.count], transferID: text == nil ? nil : MovementID.generate(),
                counterpart: texts[(index + 2) % texts.count], document: texts[(index + 3) % texts.count])
            var change = API.Change(movement: API.Movement(record), hlc: String(UInt64(abs(number)) << 16))
            if index % 4 == 1 { change.hlc = text ?? "" }
            changes.append(change)
        }
        return API.ChangesPage(
            changes: changes, next: texts.compactMap { $0 }.first ?? "", waitingFor: texts.compactMap { $0 }, more: more)
    }

    @Test("change-feed pages: same bytes as JSONEncoder, read back by JSONDecoder as they were")
    func changePages() async throws {
        await propertyCheck(
            count: 300, input: Self.awkward.array(of: 1...6),
            Gen.int(in: -1_000_000...1_000_000).array(of: 0...12), Gen.bool
        ) { texts, numbers, more in
            let page = Self.page(texts, numbers, more: more)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let expected = try encoder.encode(page)
            #expect(Array(page.sortedJSON().readableBytesView) == Array(expected))
            let read = try JSONDecoder().decode(API.ChangesPage.self, from: expected)
            #expect(try encoder.encode(read) == expected)
        }
    }

    @Test("change-feed entries written straight from stored rows: the bytes JSONEncoder writes for the operation")
    func changesFromStoredRows() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let operations = OperationGenerator.operations(count: 3_000, using: &random)
        var json = JSONText.changesPage(capacity: 1 << 20)
        for op in operations {
            let body = try LedgerRowBody.encode(op)
            try body.withUnsafeBytes { try json.change(try LedgerRowView(origin: op.origin, sequence: op.sequence, body: $0)) }
        }
        let written = json.finishChangesPage(more: true, next: "n", waitingFor: ["MAD"])
        let expected = try encoder.encode(API.ChangesPage(changes: operations.map(API.Change.init), next: "n", waitingFor: ["MAD"], more: true))
        guard Array(written.readableBytesView) != Array(expected) else { return }
        // Name the first operation that differs.
        for (index, op) in operations.enumerated() {
            var one = JSONText.changesPage(capacity: 512)
            let body = try LedgerRowBody.encode(op)
            try body.withUnsafeBytes { try one.change(try LedgerRowView(origin: op.origin, sequence: op.sequence, body: $0)) }
            let mine = String(buffer: one.finishChangesPage(more: false, next: "", waitingFor: []))
            let theirs = String(decoding: try encoder.encode(API.ChangesPage(changes: [API.Change(op)], next: "", waitingFor: [], more: false)), as: UTF8.self)
            if mine != theirs {
                Issue.record("seed \(seed), operation \(index):\n  rows: \(mine)\n   API: \(theirs)")
                return
            }
        }
        Issue.record("seed \(seed): the pages differ, no single operation does")
    }

    @Test("change-feed rows as tab-separated text, written from stored rows: the values of API.Change, read back")
    func tabSeparatedChangesFromStoredRows() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let operations = OperationGenerator.operations(count: 3_000, using: &random)
        var written = TabSeparatedText(capacity: 1 << 20)
        var expected = TabSeparatedText(capacity: 1 << 20)
        var values: [[String?]] = []
        for op in operations {
            let body = try LedgerRowBody.encode(op)
            try body.withUnsafeBytes { try written.change(try LedgerRowView(origin: op.origin, sequence: op.sequence, body: $0)) }
            let change = API.Change(op)
            let m = change.movement
            let row: [String?] = [
                m.id, m.type, m.sku, m.warehouse, String(m.quantity), String(m.delta), m.origin, String(m.sequence), m.timestamp,
                m.user, m.reason, m.reference, m.transferID, m.counterpart, change.hlc, m.document,
            ]
            expected.row(row)
            values.append(row)
        }
        #expect(Array(written.buffer.readableBytesView) == Array(expected.buffer.readableBytesView), "seed \(seed)")
        var read: [[String?]] = []
        written.buffer.withUnsafeReadableBytes { text in
            TabSeparatedText.forEachRow(in: text) { row in
                read.append((0..<row.fieldCount).map { row.text(at: $0) })
            }
        }
        #expect(read.count == values.count)
        for (index, (mine, theirs)) in zip(read, values).enumerated() where mine != theirs {
            Issue.record("seed \(seed), operation \(index):\n  read: \(mine)\n   API: \(theirs)")
            return
        }
    }

    @Test("tab-separated text: every escape and a null read back as written; a short row has no field beyond it")
    func tabSeparatedEscapes() {
        var text = TabSeparatedText(capacity: 64)
        let fields: [String?] = ["a\tb\nc\rd\\e\\N", nil, "", "\\N", "é📦", "t\\"]
        text.row(fields)
        text.row(["only"])
        #expect(String(buffer: text.buffer) == "a\\tb\\nc\\rd\\\\e\\\\N\t\\N\t\t\\\\N\té📦\tt\\\\\nonly\n")
        var rows: [[String?]] = []
        text.buffer.withUnsafeReadableBytes { bytes in
            TabSeparatedText.forEachRow(in: bytes) { row in rows.append((0..<row.fieldCount).map { row.text(at: $0) }) }
        }
        #expect(rows == [fields, ["only"]])
        text.buffer.withUnsafeReadableBytes { bytes in
            TabSeparatedText.forEachRow(in: bytes) { row in #expect(row.text(at: 7) == nil) }
        }
    }

    @Test("a stored text that is not UTF-8 is an error, never invalid JSON")
    func changeFromARowWithInvalidUTF8() throws {
        let op = LedgerOperation(
            origin: try ReplicaID("MAD"), sequence: 1, timestamp: HLCTimestamp(rawValue: 1 << 20), kind: .receive,
            sku: try SKU("A"), movementID: MovementID.generate(), warehouse: try ReplicaID("MAD"), delta: 1, actor: "José")
        var body = try LedgerRowBody.encode(op)
        // The actor's "é", found by its whole name: the random movement id may hold a 0xC3 byte of its own.
        let name = Array("José".utf8)
        let start = try #require((0...(body.count - name.count)).first { Array(body[$0..<($0 + name.count)]) == name })
        body[start + 3] = 0xFF
        var json = JSONText.changesPage(capacity: 512)
        #expect(throws: JSONText.InvalidUTF8.self) {
            try body.withUnsafeBytes { try json.change(try LedgerRowView(origin: op.origin, sequence: op.sequence, body: $0)) }
        }
        var text = TabSeparatedText(capacity: 512)
        #expect(throws: TabSeparatedText.InvalidUTF8.self) {
            try body.withUnsafeBytes { try text.change(try LedgerRowView(origin: op.origin, sequence: op.sequence, body: $0)) }
        }
    }
}
