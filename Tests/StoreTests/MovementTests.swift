import CRDT
import Foundation
import Store
import Testing

@Suite("Local movements through the write queue")
struct MovementTests {
    @Test func receiveSellAndStock() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            let (received, duplicate) = try await store.move(.receive, "SKU-1", 10)
            #expect(!duplicate)
            #expect(received.type == .receive && received.quantity == 10 && received.delta == 10)
            #expect(received.warehouse == "MAD" && received.origin == "MAD" && received.sequence == 2)
            try await store.move(.sell, "SKU-1", 3)
            #expect(try store.onHand("SKU-1") == 7)
            try await store.move(.adjust, "SKU-1", -2, reason: "count")
            #expect(try store.onHand("SKU-1") == 5)
            #expect(try store.reader.history().map(\.type) == [.productCreate, .receive, .sell, .adjust])
        }
    }

    @Test func oversellIsRefusedAndChangesNothing() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            try await store.move(.receive, "SKU-1", 2)
            let before = try store.reader.materializedStateDump()
            await #expect(throws: StoreError.insufficientStock(sku: "SKU-1", warehouse: "MAD", onHand: 2, requested: 3)) {
                try await store.move(.sell, "SKU-1", 3)
            }
            await #expect(throws: StoreError.adjustmentBelowZero(sku: "SKU-1", warehouse: "MAD", onHand: 2, delta: -5)) {
                try await store.move(.adjust, "SKU-1", -5, reason: "loss")
            }
            await #expect(throws: StoreError.insufficientStock(sku: "SKU-1", warehouse: "MAD", onHand: 2, requested: 4)) {
                try await store.move(.transfer, "SKU-1", 4, to: "SEV")
            }
            #expect(try store.reader.materializedStateDump() == before)
            #expect(try store.reader.operationCount() == 2)
        }
    }

    @Test("a local transfer to a warehouse that is not an active member is refused and changes nothing")
    func transferToUnknownOrRetiredWarehouseIsRefused() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            try await store.move(.receive, "SKU-1", 10)
            // A single node knows nobody to receive a transfer.
            let before = try store.reader.materializedStateDump()
            await #expect(throws: StoreError.unknownWarehouse("SEV")) { try await store.move(.transfer, "SKU-1", 1, to: "SEV") }
            try await store.addMember("SEV")
            try await store.addMember("BIO", retired: true)
            await #expect(throws: StoreError.unknownWarehouse("NOWHERE")) {
                try await store.move(.transfer, "SKU-1", 1, to: "NOWHERE")
            }
            await #expect(throws: StoreError.retiredWarehouse("BIO")) { try await store.move(.transfer, "SKU-1", 1, to: "BIO") }
            #expect(StoreError.unknownWarehouse("NOWHERE").description == "unknown warehouse NOWHERE: not a member of this cluster")
            #expect(StoreError.retiredWarehouse("BIO").description == "warehouse BIO is retired")
            #expect(try store.reader.materializedStateDump() == before)
            #expect(try store.reader.operationCount() == 2)
            try await store.move(.transfer, "SKU-1", 4, to: "SEV")
            #expect(try store.onHand("SKU-1") == 6)
        }
    }

    @Test("a transfer merged from a peer is kept whatever its destination: that peer may know a member we do not")
    func mergedTransferToUnknownWarehouseIsKept() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        defer {
            mad.close()
            sev.close()
        }
        try await mad.addMember("BIO")
        try await mad.addProduct("SKU-1")
        try await mad.move(.receive, "SKU-1", 10)
        try await mad.move(.transfer, "SKU-1", 3, to: "BIO")
        let outcome = try await sev.submit(.merge(try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)))
        guard case .merged(let report) = outcome else { Issue.record("unexpected outcome \(outcome)"); return }
        #expect(report.refused.isEmpty, "\(report.refused)")
        #expect(try sev.reader.openTransfers().map(\.to) == ["BIO"])
    }

    @Test(arguments: [Int64(0), -1, 1_000_000_001, Int64.max, Int64.min])
    func quantitiesOutOfRangeAreRefused(quantity: Int64) async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            for type in [MovementType.receive, .sell, .transfer] {
                await #expect(throws: StoreError.invalidQuantity(quantity)) {
                    try await store.move(type, "SKU-1", quantity, to: type == .transfer ? "SEV" : nil)
                }
            }
            if quantity != -1 {
                await #expect(throws: StoreError.invalidDelta(quantity)) {
                    try await store.move(.adjust, "SKU-1", quantity, reason: "x")
                }
            }
            #expect(try store.reader.operationCount() == 1)
        }
    }

    @Test func largestQuantityIsAccepted() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            try await store.move(.receive, "SKU-1", 1_000_000_000)
            try await store.move(.receive, "SKU-1", 1_000_000_000)
            #expect(try store.onHand("SKU-1") == 2_000_000_000)
        }
    }

    @Test func unknownAndDeletedProductsAreRefused() async throws {
        try await withStore { store, _ in
            await #expect(throws: StoreError.unknownSKU("NOPE")) { try await store.move(.receive, "NOPE", 1) }
            try await store.addProduct("SKU-1")
            await #expect(throws: StoreError.productExists("SKU-1")) { try await store.addProduct("SKU-1") }
            _ = try await store.submit(.deleteProduct(sku: sku("SKU-1"), actor: "tester"))
            await #expect(throws: StoreError.productDeleted("SKU-1")) { try await store.move(.receive, "SKU-1", 1) }
            #expect(try store.reader.product(sku("SKU-1"))?.deleted == true)
            #expect(try store.reader.products().isEmpty)
        }
    }

    @Test func repeatedMovementIdAnswersTheOriginal() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            let id = MovementID.generate()
            let (first, firstDuplicate) = try await store.move(.receive, "SKU-1", 4, id: id)
            let (second, secondDuplicate) = try await store.move(.receive, "SKU-1", 4, id: id)
            #expect(!firstDuplicate && secondDuplicate)
            #expect(first == second)
            #expect(try store.onHand("SKU-1") == 4)
            await #expect(throws: StoreError.idempotencyConflict(id: id)) { try await store.move(.receive, "SKU-1", 5, id: id) }
            await #expect(throws: StoreError.self) { try await store.move(.receive, "SKU-1", 5, id: "not-a-uuid") }
            #expect(try store.reader.operationCount() == 2)
        }
    }

    @Test func concurrentRetriesOfOneIdAreRecordedOnce() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            let id = MovementID.generate()
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await store.move(.receive, "SKU-1", 1, id: id).duplicate } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { !$0 }.count == 1)
            #expect(try store.onHand("SKU-1") == 1)
        }
    }

    @Test func aFailingCommandDoesNotPoisonItsBatch() async throws {
        try await withStore { store, _ in
            try await store.addProduct("SKU-1")
            try await store.move(.receive, "SKU-1", 50)
            // 100 concurrent sales of 1 against 50 on hand, plus unknown SKUs: exactly 50 sales succeed.
            let outcomes = await withTaskGroup(of: String.self) { group in
                for index in 0..<140 {
                    group.addTask {
                        do {
                            try await store.move(.sell, index % 7 == 0 ? "UNKNOWN" : "SKU-1", 1)
                            return "ok"
                        } catch let error as StoreError {
                            return error.code
                        } catch {
                            return "other"
                        }
                    }
                }
                return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(outcomes["ok"] == 50)
            #expect(outcomes["unknown_sku"] == 20)
            #expect(outcomes["insufficient_stock"] == 70)
            #expect(try store.onHand("SKU-1") == 0)
            #expect(try store.reader.operationCount() == 52)
            let vector = try store.reader.versionVector()
            #expect(vector[rid("MAD")] == 52)
        }
    }

    @Test func transferGoesInTransitAndOnlyTheDestinationAccepts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        defer {
            mad.close()
            sev.close()
        }
        try await mad.addMember("SEV")
        try await mad.addProduct("SKU-1")
        try await mad.move(.receive, "SKU-1", 10)
        let (shipment, _) = try await mad.move(.transfer, "SKU-1", 6, to: "SEV")
        #expect(try mad.onHand("SKU-1") == 4)
        #expect(try mad.reader.stockAll().contains(StockRow(sku: "SKU-1", warehouse: "in-transit", quantity: 6, productDeleted: false)))
        await #expect(throws: StoreError.notDestination(transfer: shipment.id, destination: "SEV")) {
            _ = try await mad.submit(.accept(AcceptRequest(transferID: shipment.id, id: MovementID.generate(), actor: "t")))
        }
        // SEV learns of the product and the shipment by merging MAD's ledger.
        let ops = try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)
        _ = try await sev.submit(.merge(ops))
        await #expect(throws: StoreError.overAccept(transfer: shipment.id, inTransit: 6, requested: 7)) {
            _ = try await sev.submit(.accept(AcceptRequest(transferID: shipment.id, quantity: 7, id: MovementID.generate(), actor: "t")))
        }
        _ = try await sev.submit(.accept(AcceptRequest(transferID: shipment.id, quantity: 2, id: MovementID.generate(), actor: "t")))
        #expect(try sev.reader.transfer(id: shipment.id)?.inTransit == 4)
        _ = try await sev.submit(.accept(AcceptRequest(transferID: shipment.id, id: MovementID.generate(), actor: "t")))
        #expect(try sev.onHand("SKU-1") == 6)
        #expect(try sev.reader.openTransfers().isEmpty)
        await #expect(throws: StoreError.overAccept(transfer: shipment.id, inTransit: 0, requested: 0)) {
            _ = try await sev.submit(.accept(AcceptRequest(transferID: shipment.id, id: MovementID.generate(), actor: "t")))
        }
        #expect(
            StoreError.overAccept(transfer: shipment.id, inTransit: 0, requested: 0).description
                == "transfer \(shipment.id) has nothing left in transit: it was fully accepted")
        await #expect(throws: StoreError.unknownTransfer("nope")) {
            _ = try await sev.submit(.accept(AcceptRequest(transferID: "nope", id: MovementID.generate(), actor: "t")))
        }
    }

    @Test func restockAlertIsRaisedOnceAndClears() async throws {
        let events = EventLog()
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try NodeStore(path: directory.file("a.sqlite"), replica: rid("MAD"), onCommit: { events.append($0) })
        defer { store.close() }
        // Set with no stock here: the alert is raised at once, not at the first movement.
        try await store.addProduct("SKU-1", reorderPoint: 5)
        #expect(try store.reader.alerts().map { [$0.warehouse, String($0.quantity)] } == [["MAD", "0"]])
        try await store.move(.receive, "SKU-1", 10)
        #expect(try store.reader.alerts().isEmpty)
        #expect(events.raised == 1 && events.cleared == 1)
        try await store.move(.sell, "SKU-1", 5)
        try await store.move(.sell, "SKU-1", 1)
        let alerts = try store.reader.alerts()
        #expect(alerts.count == 1 && alerts.first?.quantity == 4 && alerts.first?.reorderPoint == 5)
        #expect(events.raised == 2)
        try await store.move(.receive, "SKU-1", 10)
        #expect(try store.reader.alerts().isEmpty)
        #expect(events.cleared == 2)
    }

    @Test func badTextsAreRefused() async throws {
        try await withStore { store, _ in
            await #expect(throws: StoreError.self) {
                _ = try await store.submit(.createProduct(ProductDraft(sku: sku("A"), name: "  "), actor: "t"))
            }
            await #expect(throws: StoreError.self) {
                _ = try await store.submit(.createProduct(ProductDraft(sku: sku("A"), name: String(repeating: "x", count: 201)), actor: "t"))
            }
            await #expect(throws: StoreError.self) {
                _ = try await store.submit(.createProduct(ProductDraft(sku: sku("A"), name: "bell\u{7}"), actor: "t"))
            }
            let count = try store.reader.operationCount()
            #expect(count == 0)
        }
    }

    @Test func skuAndPriceSyntax() throws {
        for bad in ["", String(repeating: "a", count: 65), "a b", "é", "a/b"] {
            #expect(throws: StoreError.self) { try SKU(bad) }
        }
        #expect(try SKU("A-1_b.2").rawValue == "A-1_b.2")
        for bad in ["-1", "1.23456", "", ".5", "1e3", "12,50", "1234567890123"] {
            #expect(throws: StoreError.self) { try Price(bad) }
        }
        #expect(try Price("0012.50").rawValue == "12.50")
        #expect(try Price("0").rawValue == "0")
    }
}

/// Collects committed events from the writer thread.
final class EventLog: Sendable {
    private let events = Mutex<[StoreEvent]>([])
    func append(_ new: CommittedEvents) { events.withLock { $0 += Array(new) } }
    var raised: Int { events.withLock { $0.filter { if case .alertRaised = $0 { true } else { false } }.count } }
    var cleared: Int { events.withLock { $0.filter { if case .alertCleared = $0 { true } else { false } }.count } }
}

import Synchronization
