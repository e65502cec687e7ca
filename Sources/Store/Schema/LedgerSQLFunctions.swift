import CRDT
import GRDB
import GRDBSQLite

/// SQL functions that read one field of a ledger row body (``LedgerRowBody``): `ledger_hlc(body)`,
/// `ledger_sku(body)`, … one per column of the `operations` view, which is built on them, and `ledger_document(body)`,
/// which came after the view.
///
/// Every connection that reads the `operations` view must have them: ``register(on:)`` runs in the
/// `prepareDatabase` of every configuration the store opens (``NodeStore/openPool(path:durable:)``, backups,
/// restores). Another SQLite client (the `sqlite3` shell) can read `ledger` but not the view.
///
/// They are deterministic and innocuous (no side effects, the same result for the same body), so SQLite may use
/// them in views, indexes and `WHERE` clauses. A body that does not parse is an SQL error, never a crash.
public enum LedgerSQLFunctions {
    /// The `operations` view's columns computed from the body, in the order of the historical table.
    enum Field: Int, CaseIterable {
        case hlc, kind, sku, movementID, warehouse, delta, counterIncrements, counterDecrements, transferID, transferFrom,
            transferTo, transferShipped, transferAccepted, product, actor, reason, reference, context, document

        var column: String {
            switch self {
            case .hlc: "hlc"
            case .kind: "kind"
            case .sku: "sku"
            case .movementID: "movement_id"
            case .warehouse: "warehouse"
            case .delta: "delta"
            case .counterIncrements: "counter_increments"
            case .counterDecrements: "counter_decrements"
            case .transferID: "transfer_id"
            case .transferFrom: "transfer_from"
            case .transferTo: "transfer_to"
            case .transferShipped: "transfer_shipped"
            case .transferAccepted: "transfer_accepted"
            case .product: "product"
            case .actor: "actor"
            case .reason: "reason"
            case .reference: "reference"
            case .context: "context"
            case .document: "document"
            }
        }

        var function: String { "ledger_\(column)" }
    }

    /// Registers every field function on `db`.
    public static func register(on db: Database) throws {
        for field in Field.allCases {
            let code = sqlite3_create_function_v2(
                db.sqliteConnection, field.function, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                UnsafeMutableRawPointer(bitPattern: field.rawValue + 1), { context, _, arguments in
                    guard let context, let arguments, let argument = arguments[0] else { return }
                    LedgerSQLFunctions.evaluate(context, argument)
                }, nil, nil, nil)
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot register \(field.function)")
            }
        }
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func evaluate(_ context: OpaquePointer, _ argument: OpaquePointer) {
        guard let field = Field(rawValue: Int(bitPattern: sqlite3_user_data(context)) - 1) else { return }
        guard sqlite3_value_type(argument) == SQLITE_BLOB else {
            sqlite3_result_error(context, "\(field.function): not a ledger row body", -1)
            return
        }
        let count = Int(sqlite3_value_bytes(argument))
        let body = UnsafeRawBufferPointer(start: sqlite3_value_blob(argument), count: count)
        let fields: LedgerRowBody.Fields
        do { fields = try LedgerRowBody.Fields(body) } catch {
            sqlite3_result_error(context, "\(field.function): \(error)", -1)
            return
        }
        func text(_ range: Range<Int>?) {
            guard let range else { return sqlite3_result_null(context) }
            sqlite3_result_text(context, body.baseAddress?.advanced(by: range.lowerBound), Int32(range.count), transient)
        }
        func string(_ value: String) {
            var value = value
            value.withUTF8 { sqlite3_result_text(context, $0.baseAddress, Int32($0.count), transient) }
        }
        func id(_ range: Range<Int>?, isUUID: Bool) {
            guard let range, isUUID else { return text(range) }
            string(CanonicalUUIDText.text(body[range]))
        }
        func integer(_ value: Int64?) {
            if let value { sqlite3_result_int64(context, value) } else { sqlite3_result_null(context) }
        }
        switch field {
        case .hlc: integer(Int64(bitPattern: fields.timestamp))
        case .kind: string(fields.kind.rawValue)
        case .sku: text(fields.sku)
        case .movementID: id(fields.movementID, isUUID: fields.movementIDIsUUID)
        case .warehouse: text(fields.warehouse)
        case .delta: integer(fields.delta)
        case .counterIncrements: integer(fields.counter.map { Int64(clamping: $0.increments) })
        case .counterDecrements: integer(fields.counter.map { Int64(clamping: $0.decrements) })
        case .transferID: id(fields.transfer?.id, isUUID: fields.transfer?.idIsUUID ?? false)
        case .transferFrom: text(fields.transfer?.from)
        case .transferTo: text(fields.transfer?.to)
        case .transferShipped: integer(fields.transfer?.shipped)
        case .transferAccepted: integer(fields.transfer?.accepted)
        case .product: text(fields.product)
        case .actor: text(fields.actor)
        case .reason: text(fields.reason)
        case .reference: text(fields.reference)
        case .context: text(fields.context)
        case .document: id(fields.document, isUUID: fields.documentIsUUID)
        }
    }
}
