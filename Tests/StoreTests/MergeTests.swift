import CRDT
import Foundation
import Store
import Testing

@Suite("Merging remote operations")
struct MergeTests {
    /// Builds a ledger at MAD and SEV with products, receipts, sales, a transfer and concurrent edits.
    private func twoLedgers(in directory: TemporaryDirectory) async throws -> (mad: [LedgerOperation], sev: [LedgerOperation]) {
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        defer {
            mad.close()
            sev.close()
        }
        try await mad.addMember("SEV")
        try await mad.addProduct("A", reorderPoint: 3)
        try await mad.addProduct("B")
        try await mad.move(.receive, "A", 20)
        try await mad.move(.sell, "A", 4)
        try await mad.move(.transfer, "A", 5, to: "SEV")
        _ = try await sev.submit(.merge(try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)))
        try await sev.move(.receive, "B", 7)
        try await sev.move(.sell, "B", 7)
        _ = try await sev.submit(.updateProduct(sku: sku("A"), ProductPatch(name: "Renamed at SEV"), actor: "t"))
        _ = try await mad.submit(.updateProduct(sku: sku("A"), ProductPatch(price: .some("9.99")), actor: "t"))
        let transfer = try #require(try sev.reader.openTransfers().first)
        _ = try await sev.submit(.accept(AcceptRequest(transferID: transfer.id, quantity: 3, id: MovementID.generate(), actor: "t")))
        return (
            try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 1_000),
            try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 1_000)
        )
    }

    @Test func anyOrderAndAnyDuplicationGivesIdenticalState() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (madOps, sevOps) = try await twoLedgers(in: directory)
        let all = madOps + sevOps
        var generator = SeededGenerator(seed: 0x5EED)
        var dumps: Set<String> = []
        for round in 0..<6 {
            let sub = try TemporaryDirectory()
            defer { sub.cleanup() }
            let bio = try openStore("BIO", in: sub)
            var shuffled = all.shuffled(using: &generator)
            if round % 2 == 1 { shuffled += shuffled.prefix(5) }
            // Feed in random chunks, some twice.
            var index = 0
            while index < shuffled.count {
                let size = Int.random(in: 1...4, using: &generator)
                let chunk = Array(shuffled[index..<min(index + size, shuffled.count)])
                let report = try await bio.submit(.merge(chunk))
                guard case .merged(let merged) = report else { Issue.record("not a merge report"); return }
                #expect(merged.refused.isEmpty, "refused: \(merged.refused)")
                if Bool.random(using: &generator) { _ = try await bio.submit(.merge(chunk)) }
                index += size
            }
            dumps.insert(try bio.reader.materializedStateDump())
            #expect(try bio.reader.operationCount() == all.count)
            let vector = try bio.reader.versionVector()
            #expect(vector[rid("MAD")] == UInt64(madOps.count) && vector[rid("SEV")] == UInt64(sevOps.count))
            let stock = try bio.reader.stockAll()
            #expect(stock.contains(StockRow(sku: "A", warehouse: "MAD", quantity: 11, productDeleted: false)))
            #expect(stock.contains(StockRow(sku: "A", warehouse: "SEV", quantity: 3, productDeleted: false)))
            #expect(stock.contains(StockRow(sku: "A", warehouse: "in-transit", quantity: 2, productDeleted: false)))
            #expect(stock.contains(StockRow(sku: "B", warehouse: "SEV", quantity: 0, productDeleted: false)))
            let product = try #require(try bio.reader.product(sku("A")))
            #expect(product.name == "Renamed at SEV" && product.price == "9.99")
            bio.close()
        }
        #expect(dumps.count == 1)
    }

    @Test func replayedMergeChangesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (madOps, _) = try await twoLedgers(in: directory)
        let sub = try TemporaryDirectory()
        defer { sub.cleanup() }
        let bio = try openStore("BIO", in: sub)
        defer { bio.close() }
        _ = try await bio.submit(.merge(madOps))
        let before = try bio.reader.materializedStateDump()
        let outcome = try await bio.submit(.merge(madOps))
        #expect(outcome == .merged(MergeReport(applied: 0, duplicates: madOps.count)))
        #expect(try bio.reader.materializedStateDump() == before)
    }

    @Test func invalidOperationsAreRefusedAloneAndTheRestApplied() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (madOps, _) = try await twoLedgers(in: directory)
        let sub = try TemporaryDirectory()
        defer { sub.cleanup() }
        let sev = try openStore("SEV", in: sub)
        defer { sev.close() }
        let sale = try #require(madOps.first { $0.kind == .sell })
        var foreignDecrement = sale
        foreignDecrement.origin = rid("BIO")
        foreignDecrement.sequence = 1
        var fromSelf = sale
        fromSelf.origin = rid("SEV")
        var future = sale
        future.origin = rid("ZAR")
        future.sequence = 1
        future.timestamp = HLCTimestamp(physicalMilliseconds: SystemClock().nowMilliseconds() + 3_600_000, logical: 0)
        let batch = [foreignDecrement, fromSelf, future] + madOps
        let outcome = try await sev.submit(.merge(batch))
        guard case .merged(let report) = outcome else { Issue.record("not a merge report"); return }
        #expect(report.applied == madOps.count)
        #expect(report.refused.count == 3)
        #expect(report.refused.map(\.origin) == ["BIO", "SEV", "ZAR"])
        #expect(try sev.reader.operationCount() == madOps.count)
    }

    @Test func gapsKeepTheVersionVectorContiguous() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (madOps, _) = try await twoLedgers(in: directory)
        let sub = try TemporaryDirectory()
        defer { sub.cleanup() }
        let bio = try openStore("BIO", in: sub)
        defer { bio.close() }
        _ = try await bio.submit(.merge(Array(madOps.dropFirst(2))))
        #expect(try bio.reader.versionVector()[rid("MAD")] == 0)
        _ = try await bio.submit(.merge([madOps[1]]))
        #expect(try bio.reader.versionVector()[rid("MAD")] == 0)
        _ = try await bio.submit(.merge([madOps[0]]))
        #expect(try bio.reader.versionVector()[rid("MAD")] == UInt64(madOps.count))
    }
}

/// SplitMix64: a deterministic generator for seeded, replayable tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
