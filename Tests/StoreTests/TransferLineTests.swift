import CRDT
import Foundation
import GRDB
import Testing
@testable import Store

/// Transfers of several lines keyed by (transfer id, SKU), accepted whole or in part, and returned to their source.
@Suite struct TransferLineTests {
    /// MAD ships a two-line transfer document to SEV; SEV holds MAD's ledger.
    struct Shipped {
        let directory: TemporaryDirectory
        let mad: NodeStore
        let sev: NodeStore
        let transferID: String

        func close() {
            mad.close()
            sev.close()
            directory.cleanup()
        }
    }

    static func ship() async throws -> Shipped {
        let directory = try TemporaryDirectory()
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        try await mad.addMember("SEV")
        try await mad.addProduct("SKU-1")
        try await mad.addProduct("SKU-2")
        try await mad.move(.receive, "SKU-1", 10)
        try await mad.move(.receive, "SKU-2", 10)
        let id = MovementID.generate()
        let document = DocumentRequest(
            type: .transfer, lines: [.init(sku: sku("SKU-1"), quantity: 6), .init(sku: sku("SKU-2"), quantity: 4)],
            to: rid("SEV"), id: id, movementIDs: [MovementID.generate(), MovementID.generate()], actor: "t")
        _ = try await mad.submit(.document(document))
        _ = try await sev.submit(.merge(try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)))
        return Shipped(directory: directory, mad: mad, sev: sev, transferID: id)
    }

    static func lines(
        _ transferID: String, sku code: String? = nil, quantity: Int64? = nil, reason: String? = nil,
        id: String = MovementID.generate()
    ) -> TransferLinesRequest {
        TransferLinesRequest(transferID: transferID, sku: code.map(sku), quantity: quantity, reason: reason, id: id, actor: "t")
    }

    static func movements(_ outcome: WriteOutcome) throws -> [MovementRecord] {
        guard case let .transferLines(records, _) = outcome else { throw StoreError.storage("unexpected outcome \(outcome)") }
        return records
    }

    /// Per SKU: stock of every warehouse plus goods in transit, as one node sees it.
    static func conserved(_ store: NodeStore) throws -> [String: Int64] {
        try store.reader.stockAll().reduce(into: [:]) { $0[$1.sku, default: 0] += $1.quantity }
    }

    @Test func aTransferDocumentShipsEveryLineUnderItsID() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        let lines = try shipped.sev.reader.transferLines(id: shipped.transferID)
        #expect(lines.map(\.sku) == ["SKU-1", "SKU-2"])
        #expect(lines.map(\.inTransit) == [6, 4])
        #expect(lines.allSatisfy { $0.from == "MAD" && $0.to == "SEV" && $0.isLine })
        // Each line is an ordinary transfer movement naming the document as its transfer and as its document, in
        // the encoding of document lines.
        let ops = try shipped.mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100).filter { $0.kind == .transfer }
        #expect(ops.count == 2 && ops.allSatisfy {
            $0.transfer?.id == shipped.transferID && $0.transfer?.isLine == true && $0.document == shipped.transferID
                && $0.encodingVersion == 3
        })
        #expect(try LedgerOperationCodec.encode(ops).first == LedgerOperationCodec.version)
        #expect(try LedgerRowBody.encode(ops[0]).first == 3)
        #expect(try Self.conserved(shipped.sev) == ["SKU-1": 10, "SKU-2": 10])
    }

    @Test func aSingleTransferKeepsItsFirstEncoding() async throws {
        try await withStore { store, _ in
            try await store.addMember("SEV")
            try await store.addProduct("SKU-1")
            try await store.move(.receive, "SKU-1", 5)
            let (shipment, _) = try await store.move(.transfer, "SKU-1", 2, to: "SEV")
            let op = try #require(try store.reader.operations(origin: rid("MAD"), after: 0, limit: 10).last)
            #expect(op.transfer?.id == shipment.id && op.transfer?.isLine == false && op.encodingVersion == 1)
            #expect(try LedgerRowBody.encode(op).first == 1)
            #expect(try LedgerOperationCodec.encode([op]).first == LedgerOperationCodec.version)
        }
    }

    @Test func acceptTakesEveryOpenLineOrPartOfOne() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        let sev = shipped.sev
        let part = try Self.movements(try await sev.submit(.acceptLines(Self.lines(shipped.transferID, sku: "SKU-2", quantity: 1))))
        #expect(part.map(\.quantity) == [1] && part.map(\.sku) == ["SKU-2"])
        let id = MovementID.generate()
        let rest = try Self.movements(try await sev.submit(.acceptLines(Self.lines(shipped.transferID, id: id))))
        #expect(rest.map(\.sku) == ["SKU-1", "SKU-2"] && rest.map(\.quantity) == [6, 3])
        #expect(Set(rest.map(\.id)) == [MovementID.line(of: id, sku: sku("SKU-1")), MovementID.line(of: id, sku: sku("SKU-2"))])
        // A retry answers what was recorded.
        guard case let .transferLines(again, duplicate) = try await sev.submit(.acceptLines(Self.lines(shipped.transferID, id: id))) else {
            Issue.record("unexpected outcome")
            return
        }
        #expect(duplicate && Set(again.map(\.id)) == Set(rest.map(\.id)))
        #expect(try sev.onHand("SKU-1") == 6 && sev.onHand("SKU-2") == 4)
        #expect(try sev.reader.openTransfers().isEmpty)
    }

    @Test func refusalsChangeNothing() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        let (mad, sev, id) = (shipped.mad, shipped.sev, shipped.transferID)
        let before = try sev.reader.operationCount()
        await #expect(throws: StoreError.unknownTransfer("nope")) {
            _ = try await sev.submit(.acceptLines(Self.lines("nope")))
        }
        await #expect(throws: StoreError.unknownTransfer("nope")) {
            _ = try await sev.submit(.returnLines(Self.lines("nope", reason: "damaged")))
        }
        await #expect(throws: StoreError.unknownTransferLine(transfer: id, sku: "SKU-9")) {
            _ = try await sev.submit(.acceptLines(Self.lines(id, sku: "SKU-9")))
        }
        await #expect(throws: StoreError.overAccept(transfer: id, inTransit: 6, requested: 7)) {
            _ = try await sev.submit(.acceptLines(Self.lines(id, sku: "SKU-1", quantity: 7)))
        }
        await #expect(throws: StoreError.overReturn(transfer: id, sku: "SKU-2", inTransit: 4, requested: 5)) {
            _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-2", quantity: 5, reason: "damaged")))
        }
        await #expect(throws: StoreError.invalidInput("a return needs a reason")) {
            _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-2", quantity: 1)))
        }
        await #expect(throws: StoreError.invalidInput("a return needs a reason")) {
            _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-2", quantity: 1, reason: "  ")))
        }
        // Part of a transfer of several lines names its line.
        await #expect(throws: StoreError.invalidInput("transfer \(id) has 2 lines: name the sku to take part of one")) {
            _ = try await sev.submit(.acceptLines(Self.lines(id, quantity: 1)))
        }
        // Only the destination accepts or returns.
        await #expect(throws: StoreError.notDestination(transfer: id, destination: "SEV")) {
            _ = try await mad.submit(.returnLines(Self.lines(id, reason: "changed my mind")))
        }
        await #expect(throws: StoreError.notDestination(transfer: id, destination: "SEV")) {
            _ = try await mad.submit(.acceptLines(Self.lines(id)))
        }
        #expect(try sev.reader.operationCount() == before)
        #expect(try sev.reader.transferLines(id: id).map(\.inTransit) == [6, 4])
        // Accepted plus returned never exceeds what was shipped.
        _ = try await sev.submit(.acceptLines(Self.lines(id, sku: "SKU-2", quantity: 3)))
        await #expect(throws: StoreError.overReturn(transfer: id, sku: "SKU-2", inTransit: 1, requested: 2)) {
            _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-2", quantity: 2, reason: "damaged")))
        }
        _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-2", quantity: 1, reason: "damaged")))
        await #expect(throws: StoreError.overReturn(transfer: id, sku: "SKU-2", inTransit: 0, requested: 0)) {
            _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-2", reason: "damaged")))
        }
    }

    @Test func aReturnGoesBackAsATransferTheSourceAccepts() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        let (mad, sev, id) = (shipped.mad, shipped.sev, shipped.transferID)
        _ = try await sev.submit(.acceptLines(Self.lines(id, sku: "SKU-1", quantity: 2)))
        let back = MovementID.generate()
        let returned = try Self.movements(try await sev.submit(.returnLines(Self.lines(id, reason: "wrong order", id: back))))
        #expect(returned.map(\.sku) == ["SKU-1", "SKU-2"] && returned.map(\.quantity) == [4, 4])
        #expect(returned.allSatisfy { $0.type == .transferReturn && $0.delta == 0 && $0.counterpart == "MAD" && $0.transferID == id })
        #expect(try sev.reader.transferLines(id: id).map(\.returned) == [4, 4])
        #expect(try sev.reader.transferLines(id: back).map { [$0.from, $0.to, $0.sku, String($0.inTransit)] }
            == [["SEV", "MAD", "SKU-1", "4"], ["SEV", "MAD", "SKU-2", "4"]])
        #expect(try Self.conserved(sev) == ["SKU-1": 10, "SKU-2": 10])
        // The source learns of it by merging and accepts the transfer back like any transfer.
        _ = try await mad.submit(.merge(try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 100)))
        #expect(try Self.conserved(mad) == ["SKU-1": 10, "SKU-2": 10])
        await #expect(throws: StoreError.notDestination(transfer: back, destination: "MAD")) {
            _ = try await sev.submit(.acceptLines(Self.lines(back)))
        }
        _ = try await mad.submit(.acceptLines(Self.lines(back)))
        #expect(try mad.onHand("SKU-1") == 8 && mad.onHand("SKU-2") == 10)
        #expect(try mad.reader.openTransfers().isEmpty)
        #expect(try Self.conserved(mad) == ["SKU-1": 10, "SKU-2": 10])
    }

    /// Every operation of both sides merged one by one in a random order, on a third node, gives the same full state
    /// as the two sides once they have merged each other's ledgers.
    @Test func acceptAndReturnMergedInAnyOrderGiveTheSameState() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        let (mad, sev, id) = (shipped.mad, shipped.sev, shipped.transferID)
        _ = try await sev.submit(.acceptLines(Self.lines(id, sku: "SKU-1", quantity: 2)))
        _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-1", quantity: 1, reason: "damaged")))
        _ = try await sev.submit(.acceptLines(Self.lines(id, sku: "SKU-2", quantity: 1)))
        let back = MovementID.generate()
        _ = try await sev.submit(.returnLines(Self.lines(id, reason: "not needed", id: back)))
        _ = try await mad.submit(.merge(try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 100)))
        _ = try await mad.submit(.acceptLines(Self.lines(back, sku: "SKU-2", quantity: 2)))
        _ = try await sev.submit(.merge(try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)))
        let all = try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)
            + sev.reader.operations(origin: rid("SEV"), after: 0, limit: 100)
        func state(_ store: NodeStore) throws -> [String] {
            let stock = try store.reader.stockAll().map { "\($0.sku) \($0.warehouse) \($0.quantity)" }
            let lines = try (store.reader.transferLines(id: id) + store.reader.transferLines(id: back)).map {
                "\($0.id) \($0.sku) \($0.from) \($0.to) \($0.shipped) \($0.accepted) \($0.returned) \($0.isLine)"
            }
            return stock + lines
        }
        let expected = try state(mad)
        #expect(try state(sev) == expected)
        #expect(try Self.conserved(mad) == ["SKU-1": 10, "SKU-2": 10])
        for round in 0..<6 {
            let seed = UInt64(round) &* 0x9E37_79B9_7F4A_7C15 &+ 1
            var random = SeededGenerator(seed: seed)
            let directory = try TemporaryDirectory()
            let bcn = try openStore("BCN", in: directory)
            for op in all.shuffled(using: &random) { _ = try await bcn.submit(.merge([op])) }
            #expect(try state(bcn) == expected, "seed \(seed)")
            bcn.close()
            directory.cleanup()
        }
    }

    @Test func returnsAndLinesRoundTripThroughBothEncodings() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        _ = try await shipped.sev.submit(.returnLines(Self.lines(shipped.transferID, sku: "SKU-1", quantity: 2, reason: "damaged")))
        let ops = try shipped.sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10)
        let op = try #require(ops.last)
        #expect(op.kind == .transferReturn && op.transfer?.returned == 2 && op.transferBack?.shipped == 2 && op.encodingVersion == 2)
        let body = try LedgerRowBody.encode(op)
        #expect(body.first == 2)
        #expect(try LedgerRowBody.decode(origin: op.origin, sequence: op.sequence, body: body) == op)
        let page = try LedgerOperationCodec.encode(ops)
        #expect(page.first == LedgerOperationCodec.version)
        #expect(try LedgerOperationCodec.decode(page) == ops)
        // The new fields are in the hashed body: a different return quantity is a different chain.
        var other = op
        other.transfer?.returned = 3
        #expect(try LedgerRowBody.encode(other) != body)
        var noBack = op
        noBack.transferBack?.id = MovementID.generate()
        #expect(try LedgerRowBody.encode(noBack) != body)
    }

    /// Goods in transit are created only by their source's transfer and sent back only by their destination: a peer's
    /// operation that would ship goods back otherwise, or set what a destination accepted or returned, is refused.
    @Test func forgedReturnsAreRefused() async throws {
        let shipped = try await Self.ship()
        defer { shipped.close() }
        let (mad, sev, id) = (shipped.mad, shipped.sev, shipped.transferID)
        _ = try await sev.submit(.returnLines(Self.lines(id, sku: "SKU-1", quantity: 2, reason: "damaged")))
        let genuine = try #require(try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10).last)
        var forgeries: [LedgerOperation] = []
        var onATransfer = genuine
        onATransfer.kind = .transfer
        forgeries.append(onATransfer)
        var sameID = genuine
        sameID.transferBack?.id = id
        forgeries.append(sameID)
        var elsewhere = genuine
        elsewhere.transferBack?.to = rid("BIO")
        forgeries.append(elsewhere)
        var acceptedToo = genuine
        acceptedToo.transfer?.accepted = 6
        forgeries.append(acceptedToo)
        let before = try mad.reader.openTransfers()
        for forged in forgeries {
            guard case let .merged(report) = try await mad.submit(.merge([forged])) else {
                Issue.record("merge did not report")
                continue
            }
            #expect(report.applied == 0 && report.refused.count == 1, "\(forged)")
        }
        #expect(try mad.reader.openTransfers() == before)
        guard case let .merged(report) = try await mad.submit(.merge([genuine])) else { return }
        #expect(report.applied == 1)
    }

    /// `v14-transfer-lines` keeps every transfer of an older ledger as its one line, nothing returned.
    @Test func migrationKeepsEveryTransferAsItsOnlyLine() throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try LedgerSQLFunctions.register(on: db) }
        let queue = try DatabaseQueue(configuration: configuration)
        try StoreMigrator.migrator.migrate(queue, upTo: "v13-alert-deciding-time")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO transfers (id, sku, from_warehouse, to_warehouse, shipped, accepted, shipped_hlc)
                VALUES ('t1', 'SKU-1', 'MAD', 'SEV', 6, 2, 42), ('t2', 'SKU-2', 'SEV', 'MAD', 0, 3, NULL)
                """)
        }
        try StoreMigrator.migrator.migrate(queue)
        let lines = try queue.read { db in try TransferRecord.fetchAll(db, sql: "SELECT * FROM transfers ORDER BY id, sku") }
        #expect(lines.map { [$0.id, $0.sku, $0.from, $0.to] } == [["t1", "SKU-1", "MAD", "SEV"], ["t2", "SKU-2", "SEV", "MAD"]])
        #expect(lines.map(\.shipped) == [6, 0] && lines.map(\.accepted) == [2, 3] && lines.map(\.returned) == [0, 0])
        #expect(lines.map(\.inTransit) == [4, 0] && lines.allSatisfy { !$0.isLine })
        #expect(lines.map(\.shippedAt) == [HLCTimestamp(rawValue: 42), nil])
    }
}
