import Foundation
import GRDB
import Testing

@testable import Store

@Suite("BoundStatement: rows bound straight onto SQLite")
struct BoundStatementTests {
    @Test func bindsTextIntegersAndNullsAndReportsConstraintViolations() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, note TEXT)")
            let insert = try BoundStatement(db, sql: "INSERT INTO t (k, n, note) VALUES (?, ?, ?)")
            try insert.execute { row in
                row.text("é-1")
                row.integer(Int64.min)
                row.text(nil)
            }
            try insert.execute { row in
                row.text("k2")
                row.integer(nil)
                row.text(String(repeating: "x", count: 10_000))
            }
            // A duplicate key throws GRDB's constraint error, and the statement runs again afterwards.
            #expect {
                try insert.execute { row in
                    row.text("k2")
                    row.integer(1)
                    row.text(nil)
                }
            } throws: { error in (error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT }
            try insert.execute { row in
                row.text("k3")
                row.integer(3)
                row.text("three")
            }
            // Borrowed bytes are read in place during the step: each run stores its own, whatever the buffers held
            // before or hold after.
            for index in 0..<3 {
                var key = "borrowed-\(index)-é"
                let note = Array(repeating: UInt8(index), count: 100 * (index + 1))
                try key.withUTF8 { key in
                    try note.withUnsafeBytes { note in
                        try insert.execute { row in
                            row.borrowedText(key)
                            row.integer(Int64(index))
                            row.borrowedBlob(note)
                        }
                    }
                }
            }
            let borrowed = try Row.fetchAll(db, sql: "SELECT k, n, note FROM t WHERE k LIKE 'borrowed-%' ORDER BY k")
            #expect(borrowed.map { $0[0] as String } == ["borrowed-0-é", "borrowed-1-é", "borrowed-2-é"])
            #expect(borrowed.map { $0[1] as Int64 } == [0, 1, 2])
            #expect(borrowed.map { Array($0[2] as Data) } == (0..<3).map { Array(repeating: UInt8($0), count: 100 * ($0 + 1)) })
            try db.execute(sql: "DELETE FROM t WHERE k LIKE 'borrowed-%'")
            let rows = try Row.fetchAll(db, sql: "SELECT k, n, note FROM t ORDER BY k")
            #expect(rows.map { $0[0] as String } == ["k2", "k3", "é-1"])
            #expect(rows[2][1] as Int64 == Int64.min && rows[2][2] as String? == nil)
            #expect(rows[0][1] as Int64? == nil && (rows[0][2] as String).count == 10_000)
        }
    }
}
