import CRDT
import Foundation
import Hummingbird
import Store

/// `/v1/products`: the catalogue. Reading needs any token; changing it needs an admin token.
struct ProductsController {
    let node: InvNode

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("products", use: list)
        group.post("products", use: create)
        group.get("products/{sku}", use: show)
        group.patch("products/{sku}", use: update)
        group.delete("products/{sku}", use: remove)
        group.put("products/{sku}/reorder-points/{warehouse}", use: setWarehouseReorderPoint)
    }

    @Sendable func list(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let includeDeleted: Bool
        switch request.query("include_deleted") {
        case nil, "false": includeDeleted = false
        case "true": includeDeleted = true
        default: throw APIError(.unprocessableContent, "invalid_input", "include_deleted must be true or false")
        }
        let products = try node.store.reader.products(includeDeleted: includeDeleted).map { API.Product($0) }
        return try context.respond(products, to: request)
    }

    @Sendable func show(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let sku = try node.resolve(try context.parameters.sku())
        guard let product = try node.store.reader.product(sku) else { throw APIError(.unknownSKU(sku.rawValue)) }
        return try context.respond(API.Product(product, overrides: try node.store.reader.reorderOverrides(sku: sku.rawValue)), to: request)
    }

    @Sendable func create(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let body = try await request.decodeJSON(API.ProductBody.self, context: context)
        let draft = ProductDraft(
            sku: try SKU(body.sku), name: body.name, description: body.description ?? "", price: try body.price.map { try Price($0) },
            reorderPoint: body.reorderPoint, barcodes: body.barcodes)
        guard case .product(let state) = try await node.store.submit(.createProduct(draft, actor: identity.name)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return try context.respond(API.Product(state), status: .created, to: request)
    }

    @Sendable func update(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let sku = try node.resolve(try context.parameters.sku())
        let body = try await request.decodeJSON(API.ProductUpdate.self, context: context)
        let price: String?? = try body.price.map { value in try value.map { try Price($0).rawValue } }
        let patch = ProductPatch(
            name: body.name, description: body.description, price: price, reorderPoint: body.reorderPoint, barcodes: body.barcodes)
        guard case .product(let state) = try await node.store.submit(.updateProduct(sku: sku, patch, actor: identity.name)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return try context.respond(API.Product(state), to: request)
    }

    @Sendable func remove(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let sku = try node.resolve(try context.parameters.sku())
        guard [nil, "true", "false"].contains(request.query("force")) else {
            throw APIError(.unprocessableContent, "invalid_input", "force must be true or false")
        }
        // Stock anywhere would be stranded under a deleted product: refused unless the caller insists (force=true),
        // saying how much is where. Read before the write; a movement merged in between stays visible anyway.
        if request.query("force") != "true" {
            let held = try node.store.reader.stockAll(sku: sku.rawValue).filter { $0.quantity != 0 }
            if !held.isEmpty {
                let places = held.map { "\($0.quantity) \($0.warehouse == StockRow.inTransit ? "in transit" : "at \($0.warehouse)")" }
                throw APIError(
                    .conflict, "stock_held",
                    "\(sku.rawValue) still has stock: \(places.joined(separator: ", ")); remove it anyway with --force (force=true)")
            }
        }
        guard case .product(let state) = try await node.store.submit(.deleteProduct(sku: sku, actor: identity.name)) else {
            throw StoreError.storage("unexpected outcome")
        }
        return try context.respond(API.Product(state), to: request)
    }

    @Sendable func setWarehouseReorderPoint(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let sku = try node.resolve(try context.parameters.sku())
        let warehouse: ReplicaID
        do { warehouse = try ReplicaID(context.parameters.get("warehouse") ?? "") } catch {
            throw APIError(.unprocessableContent, "invalid_input", "warehouse must be 1-32 characters of A-Z a-z 0-9 _ -")
        }
        let body = try await request.decodeJSON(API.ReorderPointBody.self, context: context)
        let command = WriteCommand.setReorderOverride(sku: sku, warehouse: warehouse, reorderPoint: body.reorderPoint, actor: identity.name)
        guard case .product(let state) = try await node.store.submit(command) else { throw StoreError.storage("unexpected outcome") }
        return try context.respond(API.Product(state, overrides: try node.store.reader.reorderOverrides(sku: sku.rawValue)), to: request)
    }
}

extension InvNode {
    /// The product `sku` names: itself when a product has exactly that SKU, else the product holding it as a barcode;
    /// `sku` unchanged when neither (the route then answers its own `unknown_sku`).
    func resolve(_ sku: SKU) throws -> SKU {
        guard let resolved = try store.reader.resolveSKU(sku.rawValue), resolved != sku.rawValue else { return sku }
        return (try? SKU(resolved)) ?? sku
    }
}
