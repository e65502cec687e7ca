import CRDT
import Foundation
import Hummingbird
import Store

/// `/v1/imports/products`: a whole catalogue created or updated as one command of the writer, all or none.
struct ImportsController {
    let node: InvNode

    /// An import's body may be large: 50,000 products with their descriptions.
    static let maxBodySize = 32 << 20

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.post("imports/products", use: importProducts)
    }

    @Sendable func importProducts(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let body = try await request.decodeJSON(API.ImportBody.self, context: context, limit: Self.maxBodySize)
        var drafts: [ProductDraft] = []
        drafts.reserveCapacity(body.products.count)
        for (index, row) in body.products.enumerated() {
            do {
                drafts.append(ProductDraft(
                    sku: try SKU(row.sku), name: row.name, description: row.description ?? "", price: try row.price.map { try Price($0) },
                    reorderPoint: row.reorderPoint, barcodes: row.barcodes ?? []))
            } catch {
                throw APIError(StoreError.onLine(index + 1, (error as? StoreError) ?? .invalidInput(String(describing: error))))
            }
        }
        guard case let .imported(report) = try await node.store.submit(.importProducts(drafts, actor: identity.name)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return try context.respond(API.ImportResult(report), to: request)
    }
}
