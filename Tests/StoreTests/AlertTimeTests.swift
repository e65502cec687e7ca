import CRDT
import Foundation
import Store
import Testing

/// An alert's time is a function of the operations a node holds: every arrival order gives the same time.
@Suite struct AlertTimeTests {
    /// MAD creates a product with a reorder point, receives 3 and sells 1 (its alert stands: 2 <= 5); SEV, having
    /// merged the creation, lowers the reorder point to 2 (the alert still stands: 2 <= 2). Observers merge the four
    /// operations in different orders and batches; each shows the same alerts at the same times as MAD and SEV.
    @Test func everyArrivalOrderGivesTheSameAlertTime() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        defer {
            mad.close()
            sev.close()
        }
        try await mad.addProduct("A", reorderPoint: 5)
        try await mad.move(.receive, "A", 3)
        try await mad.move(.sell, "A", 1)
        let madOps = try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 10)
        _ = try await sev.submit(.merge([madOps[0]]))
        _ = try await sev.submit(.updateProduct(sku: sku("A"), ProductPatch(reorderPoint: .some(2)), actor: "t"))
        let sevOps = try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10)
        _ = try await mad.submit(.merge(sevOps))
        _ = try await sev.submit(.merge(Array(madOps.dropFirst())))
        let all = madOps + sevOps
        let newest = try #require(all.map(\.timestamp).max())

        let orders: [(String, [[LedgerOperation]])] = [
            ("one batch", [all]),
            ("one at a time", all.map { [$0] }),
            ("reversed, one at a time", all.reversed().map { [$0] }),
            ("SEV first, then MAD in one batch", [sevOps, madOps]),
            ("movements before the product", [Array(madOps.dropFirst()), sevOps, [madOps[0]]]),
        ]
        // MAD's alert is decided by every operation; SEV's (set where the reorder point was lowered, with no stock
        // there) by the lowering alone.
        let expected = [
            AlertRecord(sku: "A", warehouse: "MAD", quantity: 2, reorderPoint: 2, raisedAt: newest),
            AlertRecord(sku: "A", warehouse: "SEV", quantity: 0, reorderPoint: 2, raisedAt: sevOps[0].timestamp),
        ]
        for (index, (name, batches)) in orders.enumerated() {
            let observer = try openStore("OB\(index)", in: directory)
            defer { observer.close() }
            for batch in batches { _ = try await observer.submit(.merge(batch)) }
            #expect(try observer.reader.alerts() == expected, "\(name)")
        }
        #expect(try mad.reader.alerts() == expected)
        #expect(try sev.reader.alerts() == expected)
    }

    /// While stock stays low, a later movement moves the alert's time to its own; a clear and a new raise date the
    /// new alert from the operation that raised it.
    @Test func theAlertTimeFollowsTheNewestDecidingOperation() async throws {
        try await withStore { store, _ in
            try await store.addProduct("A", reorderPoint: 5)
            let created = try #require(try store.reader.alerts().first?.raisedAt)
            try await store.move(.receive, "A", 3)
            let afterReceipt = try #require(try store.reader.alerts().first?.raisedAt)
            #expect(afterReceipt > created)
            try await store.move(.receive, "A", 10)
            #expect(try store.reader.alerts().isEmpty)
            try await store.move(.sell, "A", 9)
            let ops = try store.reader.operations(origin: rid("MAD"), after: 0, limit: 10)
            #expect(try store.reader.alerts().first?.raisedAt == ops.last?.timestamp)
        }
    }

    /// A return changes no stock at its warehouse, yet it is a stock operation there: the alert standing at SEV takes
    /// the return's time, on SEV that made it and on MAD that merges it alone, in a batch of its own.
    @Test func aReturnMergedAloneMovesTheAlertTimeAsWhereItWasMade() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        defer {
            mad.close()
            sev.close()
        }
        try await mad.addMember("SEV")
        try await mad.addProduct("A", reorderPoint: 5)
        try await mad.move(.receive, "A", 10)
        let (shipment, _) = try await mad.move(.transfer, "A", 4, to: "SEV")
        let transferID = try #require(shipment.transferID)
        _ = try await sev.submit(.merge(try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 10)))
        _ = try await sev.submit(.acceptLines(TransferLinesRequest(
            transferID: transferID, quantity: 3, id: MovementID.generate(), actor: "t")))
        _ = try await mad.submit(.merge(try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10)))
        #expect(try mad.reader.alerts() == sev.reader.alerts())
        _ = try await sev.submit(.returnLines(TransferLinesRequest(
            transferID: transferID, quantity: 1, reason: "damaged", id: MovementID.generate(), actor: "t")))
        let returned = try #require(try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10).last)
        #expect(returned.kind == .transferReturn && returned.delta == 0)
        _ = try await mad.submit(.merge([returned]))
        let expected = [AlertRecord(sku: "A", warehouse: "SEV", quantity: 3, reorderPoint: 5, raisedAt: returned.timestamp)]
        #expect(try sev.reader.alerts() == expected)
        #expect(try mad.reader.alerts() == expected)
    }
}
