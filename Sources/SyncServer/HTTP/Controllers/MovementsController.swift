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
        group.post("transfers/{id}/return", use: sendBack)
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
        let body = try await request.decodeJSON(API.MovementBody.self, context: context)
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
        return try context.respond(try node.store.reader.openTransfers().map(API.Transfer.init), to: request)
    }

    /// Accepts every open line of a transfer, or part of one (`sku`, `quantity`). A single line answers its
    /// movement; several answer `{"transfer", "movements"}`.
    @Sendable func accept(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.staff)
        let body = try await request.decodeJSON(API.TransferLinesBody.self, context: context)
        let lines = try linesRequest(context, sku: body.sku, quantity: body.quantity, reason: body.reason, reference: body.reference, id: body.id, actor: identity.name)
        guard case let .transferLines(records, duplicate) = try await node.store.submit(.acceptLines(lines)) else {
            throw StoreError.storage("unexpected outcome")
        }
        let status: HTTPResponse.Status = duplicate ? .ok : .created
        if records.count == 1 { return JSONResponse.make(json: API.Movement(records[0]).sortedJSON(), status: status) }
        return try context.respond(API.TransferLines(transfer: lines.transferID, transferBack: nil, movements: records.map(API.Movement.init)), status: status, to: request)
    }

    /// Sends goods in transit back to their source: `{"transfer", "transfer_back", "movements"}`, where
    /// `transfer_back` is the id of the transfer back, which the source accepts.
    @Sendable func sendBack(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.staff)
        let body = try await request.decodeJSON(API.TransferLinesBody.self, context: context)
        let lines = try linesRequest(context, sku: body.sku, quantity: body.quantity, reason: body.reason, reference: body.reference, id: body.id, actor: identity.name)
        guard case let .transferLines(records, duplicate) = try await node.store.submit(.returnLines(lines)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return try context.respond(
            API.TransferLines(transfer: lines.transferID, transferBack: lines.id, movements: records.map(API.Movement.init)),
            status: duplicate ? .ok : .created, to: request)
    }

    private func linesRequest(
        _ context: InvRequestContext, sku: String?, quantity: Int64?, reason: String?, reference: String?, id: String?, actor: String
    ) throws -> TransferLinesRequest {
        let transferID = context.parameters.get("id") ?? ""
        var line: SKU?
        if let sku {
            let typed = try SKU(sku)
            // A barcode names its product's line.
            line = Barcode.isValid(sku) ? try node.resolve(typed) : typed
        }
        return TransferLinesRequest(
            transferID: MovementID.canonical(transferID) ?? transferID, sku: line, quantity: quantity, reason: reason,
            reference: reference, id: try Self.movementID(id), actor: actor)
    }
}
