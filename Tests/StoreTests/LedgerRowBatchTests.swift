import CRDT
import Foundation
import GRDB
import Testing

@testable import Store

@Suite("LedgerRowBatch: a page's ledger rows inserted several per statement")
struct LedgerRowBatchTests {
    /// The bodies of `count` operations: body `i` is `i % 7 + 1` bytes of `i`.
    private func bodies(_ count: Int) -> EncodedBodies {
        var bodies = EncodedBodies()
        for index in 0..<count {
            bodies.append(Array(repeating: UInt8(index % 256), count: index % 7 + 1))
            bodies.endOperation()
        }
        return bodies
    }

    @Test func rowsLandAsQueuedWhetherAStatementFillsOrNot() throws {
        let queue = try DatabaseQueue()
        try StoreMigrator.migrator.migrate(queue)
        let count = 3 * LedgerRowBatch.rowsPerStatement + 5
        let encoded = bodies(count)
        try queue.write { db in
            var batch = try LedgerRowBatch(bodies: encoded, in: db)
            for position in 0..<count {
                // Two origins, interleaved, as a page of several origins would not be but a batch may be.
                try batch.queue(origin: rid(position % 2 == 0 ? "EAST" : "W"), sequence: UInt64(position / 2 + 1), bodyAt: position)
                if position == 19 { try batch.flush() }
            }
            // Before the last flush, the rows of the last statement's worth still wait.
            let beforeFlush = try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger") ?? 0
            #expect(beforeFlush == count - 1)
            try batch.flush()
            let rows = try Row.fetchAll(db, sql: "SELECT origin, sequence, body FROM ledger")
            #expect(rows.count == count)
            for position in 0..<count {
                let origin = position % 2 == 0 ? "EAST" : "W"
                let row = try #require(try Row.fetchOne(
                    db, sql: "SELECT body FROM ledger WHERE origin = ? AND sequence = ?", arguments: [origin, position / 2 + 1]))
                #expect(Array(row[0] as Data) == Array(encoded[position] ?? []))
            }
        }
    }

    @Test func aRowThatFailsFailsTheRunAndItsSavepointKeepsNothing() throws {
        let queue = try DatabaseQueue()
        try StoreMigrator.migrator.migrate(queue)
        let count = LedgerRowBatch.rowsPerStatement
        let encoded = bodies(count)
        try queue.write { db in
            do {
                try db.inSavepoint {
                    var batch = try LedgerRowBatch(bodies: encoded, in: db)
                    // The last row of the statement repeats the first one's key.
                    for position in 0..<count {
                        try batch.queue(origin: rid("EAST"), sequence: UInt64(position == count - 1 ? 1 : position + 1), bodyAt: position)
                    }
                    return .commit
                }
                Issue.record("a duplicate key was inserted")
            } catch let error as DatabaseError {
                #expect(error.resultCode == .SQLITE_CONSTRAINT)
            }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger") == 0)
            var batch = try LedgerRowBatch(bodies: encoded, in: db)
            #expect(throws: StoreError.self) { try batch.queue(origin: rid("EAST"), sequence: UInt64(Int64.max) + 1, bodyAt: 0) }
        }
    }
}
