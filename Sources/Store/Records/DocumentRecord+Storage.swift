import CRDT
import GRDB

/// `documents` and `document_lines` (migration `v11-documents`): a document's head and its lines, in order.
///
/// Documents are records of the node that recorded them; what replicates is their lines' movements, which every
/// node sees in its ledger like any other.
extension DocumentRecord {
    static func fetch(id: String, in db: Database) throws -> DocumentRecord? {
        guard let head = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM documents WHERE id = ?"), arguments: [id]) else {
            return nil
        }
        let lines = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT sku, quantity, movement_id, adjustment FROM document_lines WHERE document_id = ? ORDER BY line
            """), arguments: [id]).map { row in
            Line(sku: row[0], quantity: row[1], movement: row[2], adjustment: row[3])
        }
        let rawType: String = head["type"]
        guard let type = DocumentType(rawValue: rawType) else { throw StoreError.storage("unknown document type \(rawType)") }
        let hlc: Int64 = head["hlc"]
        return DocumentRecord(
            id: head["id"], type: type, warehouse: head["warehouse"], to: head["destination"], reason: head["reason"],
            reference: head["reference"], timestamp: HLCTimestamp(rawValue: UInt64(max(hlc, 0))), user: head["actor"],
            lines: lines)
    }

    func insert(in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO documents (id, type, warehouse, destination, reason, reference, hlc, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, type.rawValue, warehouse, to, reason, reference, Int64(timestamp.rawValue), user])
        let statement = try db.cachedStatement(sql: """
            INSERT INTO document_lines (document_id, line, sku, quantity, movement_id, adjustment) VALUES (?, ?, ?, ?, ?, ?)
            """)
        for (index, line) in lines.enumerated() {
            try statement.execute(arguments: [id, index + 1, line.sku, line.quantity, line.movement, line.adjustment])
        }
    }
}
