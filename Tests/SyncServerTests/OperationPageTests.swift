import CRDT
import Foundation
import NIOCore
import Store
import SyncServer
import Testing

/// The compact wire form of ledger operations: random round trips keep every field, and any page that is not a
/// well-formed version-2 page (truncated, corrupted, another version) is refused with an error — never a crash.
@Suite("OperationPage: the peer-sync wire form of operations")
struct OperationPageTests {
    // MARK: - Round trips

    @Test("random pages round-trip every field of every operation")
    func randomRoundTrips() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for page in 0..<300 {
            let count = page % 10 == 0 ? Int.random(in: 200...600, using: &random) : Int.random(in: 0...40, using: &random)
            let operations = OperationGenerator.operations(count: count, using: &random)
            let decoded = try OperationPage.decode(try OperationPage.encode(operations))
            #expect(decoded.count == operations.count, "seed \(seed), page \(page)")
            for (index, (got, sent)) in zip(decoded, operations).enumerated() where got != sent {
                Issue.record("seed \(seed), page \(page), operation \(index):\n sent \(sent)\n  got \(got)")
                break
            }
        }
    }

    @Test("x-inv-highest names each origin's highest sequence of a page and parses back; malformed values are nil")
    func highestHeader() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for page in 0..<100 {
            let operations = OperationGenerator.operations(count: Int.random(in: 0...60, using: &random), using: &random)
            var expected: [ReplicaID: UInt64] = [:]
            for op in operations { expected[op.origin] = max(expected[op.origin] ?? 0, op.sequence) }
            let value = OperationPage.highestHeaderValue(operations.map(\.dot))
            #expect(OperationPage.highest(fromHeader: value) == expected, "seed \(seed), page \(page): \(value)")
        }
        #expect(OperationPage.highest(fromHeader: "") == [:])
        for malformed in ["MAD", "MAD:0", "MAD:x", "MAD:1,MAD:2", "bad id!:3", "MAD:1:2", ":4", "MAD:-1"] {
            #expect(OperationPage.highest(fromHeader: malformed) == nil, "\(malformed)")
        }
    }

    @Test("proven pages: cut at a head of their origin, within the byte bound when heads allow, every operation once in order")
    func provenPagesBoundedByBytes() async throws {
        try await NodeFixture.with { fixture in
            let store = fixture.node.store
            _ = try await store.submit(.createProduct(ProductDraft(sku: try SKU("P"), name: "Pear"), actor: "tester"))
            // Concurrent receipts commit in groups: heads at each commit, every 1,000 operations, and the newest.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<1_500 {
                    // Distinct reasons: a page's string table cannot share them.
                    let reason = String(repeating: "r", count: 490) + "\(index)"
                    group.addTask {
                        _ = try await store.submit(.movement(MovementRequest(
                            type: .receive, sku: try SKU("P"), quantity: 1, reason: reason, id: MovementID.generate(), actor: "tester")))
                    }
                }
                try await group.waitForAll()
            }
            let mad = try ReplicaID("MAD")
            let all = try store.reader.operations(origin: mad, after: 0, limit: 10_000)
            #expect(all.count == 1_501)
            for (limit, maxBytes) in [(50_000, OperationPage.maxEncodedBytes), (50_000, 100_000), (300, OperationPage.maxEncodedBytes), (1, 1)] {
                var vector = VersionVector()
                var received: [LedgerOperation] = []
                var pages = 0
                while pages < 100 {
                    let (page, sent, more) = try OperationPage.encodeProven(from: store.reader, missingFrom: vector, limit: limit, maxBytes: maxBytes)
                    if sent.isEmpty { break }
                    let (operations, encoded) = try OperationPage.decodeKeepingBytes(page)
                    #expect(operations.map(\.dot) == sent)
                    let heads = try LedgerOperationCodec.decodeWithProofs(encoded).proofs.heads
                    #expect(heads.map(\.origin) == [mad] && heads.map(\.sequence) == [sent.last!.sequence], "limit \(limit), max \(maxBytes)")
                    received += operations
                    vector.advance(mad, to: sent.last!.sequence)
                    pages += 1
                    if !more { break }
                }
                #expect(received == all, "limit \(limit), max \(maxBytes): \(received.count) of \(all.count) in \(pages) pages")
                // Heads lie at most 1,000 operations apart, so a smaller bound cuts pages at every head.
                #expect(pages == (limit == 50_000 && maxBytes == OperationPage.maxEncodedBytes ? 1 : 2), "limit \(limit), max \(maxBytes)")
            }
        }
    }

    @Test("an empty page round-trips")
    func emptyPage() throws {
        #expect(try OperationPage.decode(try OperationPage.encode([])) == [])
    }

    @Test("extreme values survive: sequences, timestamps going backwards, deltas, counters, quantities")
    func extremes() throws {
        let mad = try ReplicaID("MAD")
        let sev = try ReplicaID(String(repeating: "z", count: 32))
        let sku = try SKU(String(repeating: "S", count: 64))
        let operations = [
            LedgerOperation(
                origin: mad, sequence: LedgerOperation.maxSequence, timestamp: HLCTimestamp(rawValue: LedgerOperation.maxTimestamp), kind: .adjust, sku: sku, movementID: "not-a-uuid", warehouse: mad,
                delta: .min, counter: .init(increments: .max, decrements: .max), actor: "", reason: "", reference: ""),
            LedgerOperation(
                origin: mad, sequence: 1, timestamp: .zero, kind: .receive, sku: sku,
                movementID: "5B2D1C4E-1111-4222-8333-444455556666", warehouse: mad, delta: .max,
                counter: .init(increments: 0, decrements: 0), actor: "ünïcødé ✓ 🚚"),
            LedgerOperation(
                origin: sev, sequence: 7, timestamp: HLCTimestamp(rawValue: 1 << 62), kind: .transfer, sku: sku,
                movementID: "5b2d1c4e-1111-4222-8333-444455556666", warehouse: sev, delta: -5,
                counter: .init(increments: 9, decrements: 5),
                transfer: TransferDelta(id: "5b2d1c4e-1111-4222-8333-444455556666", from: sev, to: mad, shipped: .max, accepted: nil),
                actor: String(repeating: "a", count: 300)),
            LedgerOperation(
                origin: sev, sequence: 6, timestamp: HLCTimestamp(rawValue: 3), kind: .accept, sku: sku, movementID: "x", warehouse: sev,
                delta: 1, counter: .init(increments: 1),
                transfer: TransferDelta(id: "TRANSFER-not-uuid", from: mad, to: sev, shipped: 0, accepted: 0), actor: "b"),
            LedgerOperation(
                origin: mad, sequence: 2, timestamp: HLCTimestamp(rawValue: 2), kind: .productUpdate, sku: sku,
                product: ProductPatch(name: "", description: "\u{0}\n\"quoted\"", price: .some(nil), reorderPoint: .some(nil)),
                actor: "admin", context: VersionVector()),
            LedgerOperation(
                origin: mad, sequence: 3, timestamp: HLCTimestamp(rawValue: 2), kind: .productDelete, sku: sku,
                product: ProductPatch(deleted: true), actor: "admin", context: VersionVector([mad: 2, sev: .max])),
            LedgerOperation(
                origin: sev, sequence: 8, timestamp: HLCTimestamp(rawValue: 4), kind: .reorderOverride, sku: sku, warehouse: mad,
                product: ProductPatch(reorderPoint: .some(.max)), actor: "admin", context: nil),
        ]
        #expect(try OperationPage.decode(try OperationPage.encode(operations)) == operations)
    }

    @Test("a sequence of 0 or above LedgerOperation.maxSequence, or a timestamp above maxTimestamp, is refused: no ledger holds it")
    func outOfRangeNumbersAreRefused() throws {
        let mad = try ReplicaID("MAD")
        let sku = try SKU("A")
        func page(sequence: UInt64, timestamp: UInt64) throws -> ByteBuffer {
            try OperationPage.encode([LedgerOperation(
                origin: mad, sequence: sequence, timestamp: HLCTimestamp(rawValue: timestamp), kind: .receive, sku: sku,
                movementID: "5b2d1c4e-1111-4222-8333-444455556666", warehouse: mad, delta: 1, counter: .init(increments: 1),
                actor: "a")])
        }
        for sequence in [0, LedgerOperation.maxSequence + 1, 1 << 63, .max] {
            #expect(throws: OperationPage.Failure.self, "sequence \(sequence)") { try OperationPage.decode(try page(sequence: sequence, timestamp: 1)) }
        }
        for timestamp in [LedgerOperation.maxTimestamp + 1, .max] {
            #expect(throws: OperationPage.Failure.self, "timestamp \(timestamp)") { try OperationPage.decode(try page(sequence: 1, timestamp: timestamp)) }
        }
        #expect(try OperationPage.decode(try page(sequence: LedgerOperation.maxSequence, timestamp: LedgerOperation.maxTimestamp)).count == 1)
    }

    @Test("more than 128 and 16384 distinct strings (multi-byte string indexes) round-trip")
    func largeStringTable() throws {
        let mad = try ReplicaID("MAD")
        let operations = try (1...17_000).map { index in
            LedgerOperation(
                origin: mad, sequence: UInt64(index), timestamp: HLCTimestamp(rawValue: UInt64(index)), kind: .receive,
                sku: try SKU("SKU-\(index)"), movementID: UUID().uuidString.lowercased(), warehouse: mad, delta: 1,
                counter: .init(increments: UInt64(index)), actor: "user-\(index % 300)", reason: "reason \(index)")
        }
        #expect(try OperationPage.decode(try OperationPage.encode(operations)) == operations)
    }

    // MARK: - Refusals of compressed pages

    @Test("a compressed page cut short is refused (or, cut only in its end marker, still yields exactly what was sent)")
    func truncatedCompressedPages() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let operations = OperationGenerator.operations(count: 60, using: &random)
        let page = try OperationPage.encode(operations)
        let bytes = Array(page.readableBytesView)
        var refused = 0
        for length in 0..<bytes.count {
            do {
                let decoded = try OperationPage.decode(ByteBuffer(bytes: bytes[..<length]))
                #expect(decoded == operations, "seed \(seed): a page cut to \(length) of \(bytes.count) bytes decoded to other operations")
            } catch let failure as OperationPage.Failure {
                refused += 1
                _ = failure.description
            } catch {
                Issue.record("seed \(seed): cut to \(length) bytes: not an OperationPage.Failure: \(error)")
            }
        }
        #expect(refused >= bytes.count - 8, "seed \(seed): only \(refused) of \(bytes.count) prefixes refused")
    }

    @Test("random corruption of compressed pages never crashes the reader")
    func corruptedCompressedPages() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for trial in 0..<400 {
            let operations = OperationGenerator.operations(count: Int.random(in: 1...20, using: &random), using: &random)
            var bytes = Array(try OperationPage.encode(operations).readableBytesView)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                bytes[position] ^= UInt8.random(in: 1...255, using: &random)
            }
            do {
                _ = try OperationPage.decode(ByteBuffer(bytes: bytes))
            } catch is OperationPage.Failure {
            } catch {
                Issue.record("seed \(seed), trial \(trial): not an OperationPage.Failure: \(error)")
            }
        }
    }

    @Test("bytes that are not deflate at all are refused")
    func notDeflate() {
        for bytes: [UInt8] in [[], [0xFF], Array("hello, world".utf8), [UInt8](repeating: 0xFF, count: 64)] {
            #expect(throws: OperationPage.Failure.self, "\(bytes)") { try OperationPage.decode(ByteBuffer(bytes: bytes)) }
        }
    }

    // MARK: - The documented layout, by hand

    @Test("a page written by hand in the documented version-2 layout decodes to the expected operations")
    func handWrittenPage() throws {
        let operations = try OperationPage.decode(Deflate.stored(HandPage.valid))
        #expect(operations == HandPage.expected)
    }

    @Test("a string table naming an origin twice still chains that origin's sequence deltas as one")
    func repeatedOriginInTable() throws {
        var page = HandPage.Writer()
        page.byte(2)
        page.varint(4)
        for text in ["MAD", "SKU-1", "admin", "MAD"] { page.string(text) }
        page.varint(2)
        for (origin, timestamp) in [(UInt64(0), Int64(1_000)), (3, 1)] {
            // A product.update of SKU-1 by "MAD" (table index 0, then 3), one sequence after the last.
            page.varint(origin); page.zigzag(1); page.zigzag(timestamp); page.byte(1); page.varint(1)
            page.byte(0b0010_0000)
            page.zigzag(0)
            page.varint(2); page.raw(Array("{}".utf8)); page.varint(0)
            page.varint(2)
        }
        page.varint(0); page.varint(0)  // no heads, no checkpoint
        let operations = try OperationPage.decode(Deflate.stored(page.bytes))
        #expect(operations.map(\.sequence) == [1, 2])
        #expect(operations.map(\.origin.rawValue) == ["MAD", "MAD"])
    }

    @Test("an unknown version is refused as such", arguments: [UInt8(0), 1, 6, 127, 255])
    func unknownVersion(version: UInt8) throws {
        var body = HandPage.valid
        body[0] = version
        do {
            _ = try OperationPage.decode(Deflate.stored(body))
            Issue.record("version \(version) accepted")
        } catch OperationPage.Failure.unsupportedVersion(let refused) {
            #expect(refused == version)
        }
    }

    @Test("a version-1 page (a node from before origin proofs) is refused with one line saying what to do")
    func versionOneRefused() throws {
        var body = HandPage.valid
        body[0] = 1
        do {
            _ = try OperationPage.decode(Deflate.stored(body))
            Issue.record("version 1 accepted")
        } catch let failure as OperationPage.Failure {
            #expect(failure.description.contains("version 1 is not supported") && failure.description.contains("upgrade the node that sent it"))
            #expect(!failure.description.contains("\n"))
        }
    }

    @Test("every truncation of a hand-written page is refused")
    func everyTruncation() throws {
        let body = HandPage.valid
        for length in 0..<body.count {
            #expect(throws: OperationPage.Failure.self, "cut to \(length) of \(body.count) bytes") {
                try OperationPage.decode(Deflate.stored(Array(body[..<length])))
            }
        }
    }

    @Test("malformed pages are refused with an error", arguments: HandPage.malformed.map(\.name))
    func malformed(name: String) throws {
        let body = try #require(HandPage.malformed.first { $0.name == name }).body
        do {
            let operations = try OperationPage.decode(Deflate.stored(body))
            Issue.record("\(name): accepted as \(operations)")
        } catch let failure as OperationPage.Failure {
            guard case .malformed = failure else {
                Issue.record("\(name): \(failure)")
                return
            }
        }
    }

    @Test("every single-byte change of a hand-written page is refused or decodes; none crashes")
    func everyByteChange() {
        let body = HandPage.valid
        var refused = 0
        var decoded = 0
        for position in 0..<body.count {
            for value in [UInt8(0x00), 0x01, 0x02, 0x7F, 0x80, 0xC0, 0xFE, 0xFF] where value != body[position] {
                var changed = body
                changed[position] = value
                do {
                    _ = try OperationPage.decode(Deflate.stored(changed))
                    decoded += 1
                } catch is OperationPage.Failure {
                    refused += 1
                } catch {
                    Issue.record("byte \(position) = \(value): not an OperationPage.Failure: \(error)")
                }
            }
        }
        #expect(refused > 0 && decoded > 0, "\(refused) refused, \(decoded) decoded")
    }
}

// MARK: - Support

/// Random operations shaped as the applier makes them (a causal context travels with a product patch only).
enum OperationGenerator {
    static let replicas = try! ["MAD", "SEV", "BIO", "W-1", "w_2", String(repeating: "Z", count: 32)].map { try ReplicaID($0) }
    static let texts = [
        "", "admin", "staff 1", "Ünïcødé ✓", "🚚📦", "with\nnewline", "\"quoted\"", "a,b", String(repeating: "x", count: 200),
    ]

    static func operations(count: Int, using random: inout SplitMix64) -> [LedgerOperation] {
        var sequences: [ReplicaID: UInt64] = [:]
        var timestamp = UInt64.random(in: 0...(1 << 62), using: &random)
        return (0..<count).map { _ in
            let origin = replicas.randomElement(using: &random)!
            // Usually dense, increasing sequences and timestamps (as peers send them); sometimes anything a ledger can
            // hold (sequences 1...LedgerOperation.maxSequence, timestamps up to LedgerOperation.maxTimestamp).
            var sequence = (sequences[origin] ?? 0) + UInt64.random(in: 1...3, using: &random)
            if Int.random(in: 0..<10, using: &random) == 0 || sequence > LedgerOperation.maxSequence {
                sequence = UInt64.random(in: 1...LedgerOperation.maxSequence, using: &random)
            }
            sequences[origin] = sequence
            if Int.random(in: 0..<10, using: &random) == 0 {
                timestamp = UInt64.random(in: 0...LedgerOperation.maxTimestamp, using: &random)
            } else {
                timestamp = min(timestamp + UInt64.random(in: 0...100_000, using: &random), LedgerOperation.maxTimestamp)
            }
            return operation(origin: origin, sequence: sequence, timestamp: HLCTimestamp(rawValue: timestamp), using: &random)
        }
    }

    static func operation(origin: ReplicaID, sequence: UInt64, timestamp: HLCTimestamp, using random: inout SplitMix64) -> LedgerOperation {
        let kind = OperationKind.allCases.randomElement(using: &random)!
        let sku = try! SKU(["A", "SKU-1", "sku.2_x", String(repeating: "9", count: 64)].randomElement(using: &random)!)
        var op = LedgerOperation(origin: origin, sequence: sequence, timestamp: timestamp, kind: kind, sku: sku, actor: text(&random))
        if Bool.random(using: &random) { op.reason = text(&random) }
        if Bool.random(using: &random) { op.reference = text(&random) }
        if kind.isMovement {
            op.movementID = movementID(&random)
            op.warehouse = Int.random(in: 0..<8, using: &random) == 0 ? replicas.randomElement(using: &random) : origin
            op.delta = Int64.random(in: Int64.min...Int64.max, using: &random) >> Int64.random(in: 0...63, using: &random)
            op.counter = PNCounter.Entry(
                increments: UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random),
                decrements: UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random))
            if kind == .transfer || kind == .accept {
                let other = replicas.randomElement(using: &random)!
                op.transfer = TransferDelta(
                    id: movementID(&random), from: kind == .transfer ? origin : other, to: kind == .transfer ? other : origin,
                    shipped: kind == .transfer ? quantity(&random) : nil, accepted: kind == .accept ? quantity(&random) : nil,
                    isLine: Int.random(in: 0..<4, using: &random) == 0)
            } else if kind == .transferReturn {
                // A line sent back, and the transfer back that carries it.
                let other = replicas.randomElement(using: &random)!
                op.transfer = TransferDelta(
                    id: movementID(&random), from: other, to: origin, returned: quantity(&random), isLine: Bool.random(using: &random))
                op.transferBack = TransferDelta(id: movementID(&random), from: origin, to: other, shipped: quantity(&random), isLine: true)
            }
            // A line of a document names it (a UUID, or any text a peer may send).
            if Int.random(in: 0..<4, using: &random) == 0 { op.document = movementID(&random) }
        } else {
            if kind == .reorderOverride { op.warehouse = replicas.randomElement(using: &random) }
            op.product = patch(&random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: op.context = nil
            case 1: op.context = VersionVector()
            default:
                var entries: [ReplicaID: UInt64] = [:]
                for replica in replicas where Bool.random(using: &random) {
                    entries[replica] = UInt64.random(in: 1...UInt64.max, using: &random)
                }
                op.context = VersionVector(entries)
            }
        }
        return op
    }

    static func text(_ random: inout SplitMix64) -> String {
        Int.random(in: 0..<4, using: &random) == 0 ? movementID(&random) : texts.randomElement(using: &random)!
    }

    /// Mostly lowercase UUIDs (sent as 16 bytes); sometimes uppercase ones or free text (sent as strings).
    static func movementID(_ random: inout SplitMix64) -> String {
        let uuid = UUID(uuid: (
            UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
            UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
            UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
            UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
            UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
            UInt8.random(in: 0...255, using: &random)))
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return uuid.uuidString
        case 1: return texts.randomElement(using: &random)!
        default: return uuid.uuidString.lowercased()
        }
    }

    static func quantity(_ random: inout SplitMix64) -> Int64? {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: nil
        case 1: 0
        case 2: .max
        default: Int64.random(in: 1...1_000_000_000, using: &random)
        }
    }

    static func patch(_ random: inout SplitMix64) -> ProductPatch {
        var patch = ProductPatch()
        if Bool.random(using: &random) { patch.name = text(&random) }
        if Bool.random(using: &random) { patch.description = text(&random) }
        switch Int.random(in: 0..<3, using: &random) {
        case 0: patch.price = nil
        case 1: patch.price = .some(nil)
        default: patch.price = .some(["0", "12.50", "999999.99"].randomElement(using: &random)!)
        }
        switch Int.random(in: 0..<3, using: &random) {
        case 0: patch.reorderPoint = nil
        case 1: patch.reorderPoint = .some(nil)
        default: patch.reorderPoint = .some(Int64.random(in: 0...Int64.max, using: &random))
        }
        if Bool.random(using: &random) { patch.deleted = Bool.random(using: &random) }
        return patch
    }
}

/// Raw deflate (RFC 1951) made of stored blocks: wraps a hand-written page body exactly as the peer would send it,
/// without a compressor in the test.
enum Deflate {
    static func stored(_ body: [UInt8]) -> ByteBuffer {
        var out: [UInt8] = []
        var chunks = stride(from: 0, to: body.count, by: 65_535).map { Array(body[$0..<min($0 + 65_535, body.count)]) }
        if chunks.isEmpty { chunks = [[]] }
        for (index, chunk) in chunks.enumerated() {
            out.append(index == chunks.count - 1 ? 0x01 : 0x00)
            let length = UInt16(chunk.count)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += chunk
        }
        return ByteBuffer(bytes: out)
    }
}

/// Version-1 page bodies written byte by byte from the layout documented on `OperationPage`.
enum HandPage {
    static let uuid: [UInt8] = [0x5B, 0x2D, 0x1C, 0x4E, 0x11, 0x11, 0x42, 0x22, 0x83, 0x33, 0x44, 0x44, 0x55, 0x55, 0x66, 0x66]

    struct Writer {
        var bytes: [UInt8] = []
        mutating func byte(_ value: UInt8) { bytes.append(value) }
        mutating func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }
        mutating func zigzag(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
        mutating func string(_ text: String) {
            varint(UInt64(text.utf8.count))
            bytes += Array(text.utf8)
        }
        mutating func raw(_ data: [UInt8]) { bytes += data }
    }

    // String table: 0 MAD, 1 SKU-1, 2 admin, 3 SEV, 4 damaged.
    static let strings = ["MAD", "SKU-1", "admin", "SEV", "damaged"]

    /// A receive (UUID id) and a product update (name, price cleared, causal context), then a transfer to SEV.
    static func body(
        version: UInt8 = 2, strings: [String] = strings, count: UInt64 = 3, kind: UInt8 = 3, sku: UInt64 = 1,
        patchJSON: [UInt8] = Array(#"{"name":"Tea","price":null}"#.utf8), contextJSON: [UInt8] = Array(#"{"MAD":1}"#.utf8),
        trailing: [UInt8] = []
    ) -> [UInt8] {
        var page = Writer()
        page.byte(version)
        page.varint(UInt64(strings.count))
        for text in strings { page.string(text) }
        page.varint(count)
        // 1: receive 5 x SKU-1 at MAD, MAD:1 at t=1000, id a UUID, reason "damaged".
        page.varint(0); page.zigzag(1); page.zigzag(1_000); page.byte(kind); page.varint(sku)
        page.byte(0b0100_1111)  // movement id, as UUID, warehouse, counter, reason
        page.raw(uuid); page.varint(0); page.zigzag(5); page.varint(5); page.varint(0)
        page.varint(2); page.varint(4)
        // 2: product.update of SKU-1 by MAD:2 at t=999 (the timestamp delta is negative).
        page.varint(0); page.zigzag(1); page.zigzag(-1); page.byte(1); page.varint(1)
        page.byte(0b0010_0000)  // product
        page.zigzag(0)
        page.varint(UInt64(patchJSON.count)); page.raw(patchJSON); page.varint(UInt64(contextJSON.count)); page.raw(contextJSON)
        page.varint(2)
        // 3: transfer 2 x SKU-1 from SEV:4 to MAD at t=1010, id and transfer id as strings.
        page.varint(3); page.zigzag(4); page.zigzag(11); page.byte(6); page.varint(1)
        page.byte(0b0001_1101)  // movement id (string), warehouse, counter, transfer
        page.varint(4); page.varint(3); page.zigzag(-2); page.varint(7); page.varint(2)
        page.byte(0); page.varint(4); page.varint(3); page.varint(0); page.varint(3); page.varint(0)
        page.varint(2)
        // The proofs: no head, no checkpoint.
        page.varint(0); page.varint(0)
        page.raw(trailing)
        return page.bytes
    }

    static var valid: [UInt8] { body() }

    static var expected: [LedgerOperation] {
        let mad = try! ReplicaID("MAD")
        let sev = try! ReplicaID("SEV")
        let sku = try! SKU("SKU-1")
        return [
            LedgerOperation(
                origin: mad, sequence: 1, timestamp: HLCTimestamp(rawValue: 1_000), kind: .receive, sku: sku,
                movementID: "5b2d1c4e-1111-4222-8333-444455556666", warehouse: mad, delta: 5, counter: .init(increments: 5),
                actor: "admin", reason: "damaged"),
            LedgerOperation(
                origin: mad, sequence: 2, timestamp: HLCTimestamp(rawValue: 999), kind: .productUpdate, sku: sku,
                product: ProductPatch(name: "Tea", price: .some(nil)), actor: "admin", context: VersionVector([mad: 1])),
            LedgerOperation(
                origin: sev, sequence: 4, timestamp: HLCTimestamp(rawValue: 1_010), kind: .transfer, sku: sku, movementID: "damaged",
                warehouse: sev, delta: -2, counter: .init(increments: 7, decrements: 2),
                transfer: TransferDelta(id: "damaged", from: sev, to: mad, shipped: 2), actor: "admin"),
        ]
    }

    static var malformed: [(name: String, body: [UInt8])] {
        var overlongVarint = Writer()
        overlongVarint.byte(2)
        overlongVarint.raw([UInt8](repeating: 0xFF, count: 11) + [0x01])
        return [
            ("empty page", []),
            ("only a version", [2]),
            ("string table larger than the page", [2, 0x7F]),
            ("varint longer than 64 bits", overlongVarint.bytes),
            ("string not UTF-8", [2, 1, 2, 0xC3, 0x28, 0]),
            ("string index outside the table", body(sku: 9)),
            ("no strings, yet an operation", body(strings: [])),
            ("kind out of range", body(kind: UInt8(OperationKind.allCases.count))),
            ("kind 255", body(kind: 255)),
            ("SKU not valid", body(strings: ["MAD", "bad sku!", "admin", "SEV", "damaged"])),
            ("origin not a replica id", body(strings: ["M/D", "SKU-1", "admin", "SEV", "damaged"])),
            ("more operations than written", body(count: 4)),
            ("a count beyond the bytes", body(count: 1 << 40)),
            ("fewer operations than written", body(count: 2)),
            ("trailing bytes", body(trailing: [0])),
            ("product patch not JSON", body(patchJSON: Array("{name".utf8))),
            ("product patch of the wrong type", body(patchJSON: Array(#"{"name":5}"#.utf8))),
            ("causal context not JSON", body(contextJSON: Array("[".utf8))),
            ("causal context with a bad replica id", body(contextJSON: Array(#"{"bad id":1}"#.utf8))),
        ]
    }
}
