import Foundation
import NIOHTTP1
import Store
import SyncServer

extension NodeClient {
    /// The SKU of the product `typed` names: itself when a product has exactly that SKU, else the one product
    /// whose SKU differs from it only by case.
    ///
    /// Every command that names a SKU resolves it here first, so an unknown SKU fails the same way everywhere
    /// (`inv stock NOPE` used to print "no stock of NOPE" and succeed while `inv sell NOPE` failed).
    /// - Throws: `CLIError` for an unknown SKU, or one that matches several products differing only by case.
    func resolveSKU(_ typed: String) async throws -> String {
        guard SKU.isValid(typed) else { throw CLIError("SKU must be 1-64 characters of A-Z a-z 0-9 . _ -, got \(typed.debugDescription.prefix(80))") }
        do {
            // "." and ".." are valid SKUs but not path segments: only the list can find them.
            guard typed != ".", typed != ".." else { throw CLIError("unknown SKU \(typed)", status: 404) }
            return try decode(API.Product.self, try await send(.GET, "/v1/products/\(typed)")).sku
        } catch let error as CLIError where error.status == 404 {
            let products = try decode([API.Product].self, try await send(.GET, "/v1/products", query: [("include_deleted", "true")]))
            let matches = products.filter { $0.sku.lowercased() == typed.lowercased() }.map(\.sku)
            switch matches.count {
            case 1: return matches[0]
            case 0: throw CLIError("unknown SKU \(typed): no product has it (see `inv product list`)")
            default:
                throw CLIError("SKU \(typed) matches \(matches.joined(separator: " and ")), which differ only by case; write it exactly")
            }
        }
    }
}
