import CRDT
import Foundation
import Hummingbird
import Store

/// `/v1/movements` and `/v1/transfers`: receipts, sales, adjustments, transfers and their acceptance.
struct MovementsController {
    let node: InvNode

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.post("movements", use: create)
        group.get("movements/{id}", use: show)
        group.get("transfers", use: transfers)
        group.post("transfers/{id}/accept", use: accept)
    }

    struct MovementBody: Decodable {
        var type: MovementType
        var sku: String
        var quantity: Int64
        var to: String?
        var reason: String?
        var reference: String?
        var id: String?
    }

    struct AcceptBody: Decodable {
        var quantity: Int64?
        var reason: String?
        var reference: String?
        var id: String?
    }

    static func movementID(_ raw: String?) throws -> String {
        guard let raw else { return MovementID.generate() }
        guard let canonical = MovementID.canonical(raw) else {
            throw APIError(.unprocessableContent, "invalid_input", "id must be a UUID")
        }
        return canonical
    }

    @Sendable func create(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.staff)
        let body = try await request.decodeJSON(MovementBody.self, context: context)
        let to: ReplicaID?
        do { to = try body.to.map { try ReplicaID($0) } } catch {
            throw APIError(.unprocessableContent, "invalid_input", "to must be a warehouse id (1-32 characters of A-Z a-z 0-9 _ -)")
        }
        let movement = MovementRequest(
            type: body.type, sku: try SKU(body.sku), quantity: body.quantity, to: to, reason: body.reason,
            reference: body.reference, id: try Self.movementID(body.id), actor: identity.name)
        let outcome = try await submit(movement)
        guard case let .movement(record, duplicate) = outcome else {
            throw StoreError.storage("unexpected outcome")
        }
        return JSONResponse.make(json: API.Movement(record).sortedJSON(), status: duplicate ? .ok : .created)
    }

    /// Submits `movement`; a SKU no product has may be a barcode, looked up only then, so that the hot path (a SKU)
    /// reads nothing more than before; an exact SKU wins over a barcode either way.
    private func submit(_ movement: MovementRequest) async throws -> WriteOutcome {
        do {
            return try await node.store.submit(.movement(movement))
        } catch {
            // `submit` throws only `StoreError`. Kept out of `create`: a `catch` pattern with a `where` clause there,
            // on a typed throw, made the compiler's SIL pass (StackNesting) run without end.
            guard case .unknownSKU(let typed) = error, Barcode.isValid(typed) else { throw error }
            let product = try node.resolve(movement.sku)
            guard product != movement.sku else { throw error }
            var resolved = movement
            resolved.sku = product
            return try await node.store.submit(.movement(resolved))
        }
    }

    @Sendable func show(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let id = context.parameters.get("id") ?? ""
        guard let record = try node.store.reader.movement(id: MovementID.canonical(id) ?? id) else {
            throw APIError.notFound("no movement \(id)")
        }
        return JSONResponse.make(json: API.Movement(record).sortedJSON())
    }

    @Sendable func transfers(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        return try JSONResponse.make(try node.store.reader.openTransfers().map(API.Transfer.init))
    }

    @Sendable func accept(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.staff)
        let transferID = context.parameters.get("id") ?? ""
        let body = try await request.decodeJSON(AcceptBody.self, context: context)
        let accept = AcceptRequest(
            transferID: MovementID.canonical(transferID) ?? transferID, quantity: body.quantity, reason: body.reason,
            reference: body.reference, id: try Self.movementID(body.id), actor: identity.name)
        guard case let .movement(record, duplicate) = try await node.store.submit(.accept(accept)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return JSONResponse.make(json: API.Movement(record).sortedJSON(), status: duplicate ? .ok : .created)
    }
}
