import Foundation

/// Why the store refused or failed a command. A refused command changed nothing.
///
/// Codable because refusals cross the ZMQ write queue back to the submitter.
public enum StoreError: Error, Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    /// Input that fails a syntactic rule (SKU format, text length, UUID, price format...).
    case invalidInput(String)
    /// A quantity outside `1...1_000_000_000`.
    case invalidQuantity(Int64)
    /// An adjustment's delta that is zero or whose magnitude is outside `1...1_000_000_000` (API code
    /// `invalid_quantity`, like a quantity).
    case invalidDelta(Int64)
    case unknownSKU(String)
    case productExists(String)
    case productDeleted(String)
    case insufficientStock(sku: String, warehouse: String, onHand: Int64, requested: Int64)
    case unknownTransfer(String)
    /// A local transfer names a destination that is not a member of the cluster as this node knows it (nobody
    /// would ever accept it, and a transfer cannot be cancelled).
    case unknownWarehouse(String)
    /// A local transfer names a retired member as its destination.
    case retiredWarehouse(String)
    /// Only the destination warehouse's node accepts a transfer.
    case notDestination(transfer: String, destination: String)
    case overAccept(transfer: String, inTransit: Int64, requested: Int64)
    /// The movement id was already used for a different movement.
    case idempotencyConflict(id: String)
    case unknownToken(String)
    /// The token was revoked: it can no longer be rotated (create a new one).
    case tokenRevoked(String)
    /// A stock total would leave the range a 64-bit integer holds.
    case overflow
    /// A replicated operation that breaks a rule of the cluster (wrong origin, clock drift, unknown format).
    case invalidOperation(String)
    /// SQLite failed (disk full, I/O error...). Nothing of the command was kept.
    case storage(String)
    /// The write queue is not running (the node is stopping, or has not started).
    case unavailable(String)
    /// The node was restored from a backup and refuses local writes until it has caught up with its peers: the
    /// restored ledger may lack operations of its own that peers hold.
    case catchingUp
    /// A live token of this node already has that name (token names are unique per node).
    case tokenNameTaken(String)
    /// An adjustment would take the count below zero (`delta` is negative and larger than what is on hand).
    case adjustmentBelowZero(sku: String, warehouse: String, onHand: Int64, delta: Int64)
    /// A product created here whose SKU differs only by case from a live product's (`existing`): two such SKUs
    /// would be one product to every person reading them.
    case skuDiffersOnlyByCase(sku: String, existing: String)
    /// This node's own warehouse is retired (since `sinceMilliseconds`): its writes would reach no peer.
    case retired(sinceMilliseconds: UInt64)
    /// A document refused because of one of its lines (`line` counts from 1): nothing of the document was kept.
    /// Its code is the line's own refusal's.
    indirect case onLine(Int, StoreError)
    /// A barcode given to a product here that a live product already holds, or that is a live product's SKU.
    case barcodeTaken(barcode: String, sku: String)
    /// A transfer has no line for that SKU.
    case unknownTransferLine(transfer: String, sku: String)
    /// A return of more than is still in transit on a line (only its destination returns, as it alone accepts).
    case overReturn(transfer: String, sku: String, inTransit: Int64, requested: Int64)

    /// What an adjustment's delta must be, as the CLI and the API say it.
    public static let deltaRule = "delta must be a non-zero whole number from -1000000000 to 1000000000"

    /// A stable machine-readable code, used as the API's `error.code`.
    public var code: String {
        switch self {
        case .invalidInput: "invalid_input"
        case .invalidQuantity, .invalidDelta: "invalid_quantity"
        case .unknownSKU: "unknown_sku"
        case .productExists, .skuDiffersOnlyByCase: "product_exists"
        case .productDeleted: "product_deleted"
        case .insufficientStock, .adjustmentBelowZero: "insufficient_stock"
        case .unknownTransfer: "unknown_transfer"
        case .unknownWarehouse: "unknown_warehouse"
        case .retiredWarehouse: "retired_warehouse"
        case .notDestination: "not_destination"
        case .overAccept: "over_accept"
        case .idempotencyConflict: "idempotency_conflict"
        case .unknownToken: "unknown_token"
        case .tokenRevoked: "token_revoked"
        case .overflow: "overflow"
        case .invalidOperation: "invalid_operation"
        case .storage: "storage_error"
        case .unavailable: "unavailable"
        case .catchingUp: "catching_up"
        case .tokenNameTaken: "token_name_taken"
        case .retired: "retired"
        case .onLine(_, let error): error.code
        case .barcodeTaken: "barcode_taken"
        case .unknownTransferLine: "unknown_transfer"
        case .overReturn: "over_return"
        }
    }

    public var description: String {
        switch self {
        case .invalidInput(let message): message
        case let .onLine(line, error): "line \(line): \(error.description)"
        case let .barcodeTaken(barcode, sku) where barcode == sku: "barcode \(barcode) is the SKU of another product"
        case let .barcodeTaken(barcode, sku): "barcode \(barcode) already belongs to product \(sku)"
        case .invalidQuantity(let value): "quantity must be a whole number from 1 to 1000000000, got \(value)"
        case .invalidDelta(let value): Self.deltaRule + ", got \(value)"
        case .unknownSKU(let sku): "unknown sku \(sku)"
        case .productExists(let sku): "product \(sku) already exists"
        case .productDeleted(let sku): "product \(sku) is deleted"
        case let .insufficientStock(sku, warehouse, onHand, requested):
            "not enough stock of \(sku) in \(warehouse): \(onHand) on hand, \(requested) requested"
        case let .adjustmentBelowZero(sku, warehouse, onHand, delta):
            "cannot adjust \(sku) in \(warehouse) by \(delta): \(onHand) on hand, so the count would fall to \(onHand + delta)"
        case .retired(let milliseconds):
            "this warehouse was retired on \(Self.day(milliseconds)); writes are refused (an admin re-admits it with `inv peer readmit` on the founding node)"
        case let .skuDiffersOnlyByCase(sku, existing):
            "product \(existing) already exists; SKU \(sku) differs from it only by case"
        case .unknownTransfer(let id): "unknown transfer \(id)"
        case let .unknownTransferLine(transfer, sku): "transfer \(transfer) has no line for \(sku)"
        case let .overReturn(transfer, sku, 0, _):
            "transfer \(transfer) has no \(sku) left in transit to return"
        case let .overReturn(transfer, sku, inTransit, requested):
            "transfer \(transfer) has \(inTransit) x \(sku) in transit, \(requested) to return requested"
        case .unknownWarehouse(let warehouse): "unknown warehouse \(warehouse): not a member of this cluster"
        case .retiredWarehouse(let warehouse): "warehouse \(warehouse) is retired"
        case let .notDestination(transfer, destination):
            "transfer \(transfer) goes to \(destination); only that warehouse can accept it"
        case let .overAccept(transfer, 0, _):
            "transfer \(transfer) has nothing left in transit: it was fully accepted"
        case let .overAccept(transfer, inTransit, requested):
            "transfer \(transfer) has \(inTransit) in transit, \(requested) requested"
        case .idempotencyConflict(let id): "movement id \(id) was already used for a different movement"
        case .unknownToken(let id): "unknown token \(id)"
        case .tokenRevoked(let id): "token \(id) is revoked; create a new token instead"
        case .overflow: "the stock total would overflow"
        case .invalidOperation(let message): "invalid operation: \(message)"
        case .storage(let message): "storage error: \(message)"
        case .unavailable(let message): "write queue unavailable: \(message)"
        case .tokenNameTaken(let name): "a token named \(name) already exists; choose another name"
        case .catchingUp:
            "this node was restored from a backup and is catching up with its peers; writes resume once it has synced with every active member (reads work)"
        }
    }

    /// `2026-12-02 14:02 UTC`, for messages.
    static func day(_ milliseconds: UInt64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d UTC", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0)
    }
}
