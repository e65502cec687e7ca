import CRDT
import Foundation
import Hummingbird
import Store

/// `/v1/documents`: many lines (a delivery note, a sale, a shipment, a stocktake) recorded as one command.
struct DocumentsController {
    let node: InvNode

    /// A document's body may be larger than other requests': 10,000 lines of 64-character SKUs.
    static let maxBodySize = 4 << 20

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.post("documents", use: create)
        group.get("documents/{id}", use: show)
    }

    @Sendable func create(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.staff)
        let body = try await request.decodeJSON(API.DocumentBody.self, context: context, limit: Self.maxBodySize)
        guard body.lines.count <= DocumentRequest.maxLines else {
            throw APIError(.unprocessableContent, "invalid_input", "a document holds at most \(DocumentRequest.maxLines) lines, got \(body.lines.count)")
        }
        let to: ReplicaID?
        do { to = try body.to.map { try ReplicaID($0) } } catch {
            throw APIError(.unprocessableContent, "invalid_input", "to must be a warehouse id (1-32 characters of A-Z a-z 0-9 _ -)")
        }
        var startedAt: HLCTimestamp?
        if let text = body.startedAt {
            guard let milliseconds = DateParsing.milliseconds(text), milliseconds <= HLCTimestamp.maxPhysicalMilliseconds else {
                throw APIError(.unprocessableContent, "invalid_input", "started_at must be a time like 2026-01-31T12:00:00Z")
            }
            startedAt = HLCTimestamp(physicalMilliseconds: milliseconds, logical: .max)
        }
        var lines: [DocumentRequest.Line] = []
        lines.reserveCapacity(body.lines.count)
        for (index, line) in body.lines.enumerated() {
            do { lines.append(DocumentRequest.Line(sku: try SKU(line.sku), quantity: line.quantity)) } catch {
                throw APIError(StoreError.onLine(index + 1, error))
            }
        }
        let document = DocumentRequest(
            type: body.type, lines: lines, to: to, reason: body.reason, reference: body.reference,
            id: try MovementsController.movementID(body.id), movementIDs: lines.map { _ in MovementID.generate() },
            actor: identity.name, countStartedAt: startedAt)
        guard case let .document(record, duplicate) = try await node.store.submit(.document(document)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return try context.respond(API.Document(record), status: duplicate ? .ok : .created, to: request)
    }

    @Sendable func show(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let id = context.parameters.get("id") ?? ""
        guard let record = try node.store.reader.document(id: MovementID.canonical(id) ?? id) else {
            throw APIError.notFound("no document \(id)")
        }
        return try context.respond(API.Document(record), to: request)
    }
}
