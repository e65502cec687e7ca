import ArgumentParser
import Foundation
import NIOHTTP1
import SyncServer

/// `inv product ...`: the catalogue.
struct ProductCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product", abstract: "Manage products (adding, changing and removing needs an admin token).",
        subcommands: [Add.self, Update.self, Remove.self, List.self, Show.self])

    /// The fields `product add` takes besides its required `--name`.
    struct OptionalFields: ParsableArguments {
        @Option(help: "Free text.") var description: String?
        // `.unconditional`: a value such as `-1` reaches validation and gets its real error, not "Missing value".
        @Option(parsing: .unconditional, help: "Price as a decimal, e.g. 12.50.") var price: String?
        @Option(parsing: .unconditional, help: "Raise an alert when stock falls to this level.") var reorderPoint: Int64?
    }

    struct Fields: ParsableArguments {
        @Option(help: "Display name.") var name: String?
        @Option(help: "Free text.") var description: String?
        // `.unconditional`: a value such as `-1` reaches validation and gets its real error, not "Missing value".
        @Option(parsing: .unconditional, help: "Price as a decimal, e.g. 12.50.") var price: String?
        @Option(parsing: .unconditional, help: "Raise an alert when stock falls to this level.") var reorderPoint: Int64?
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a product.")
        @Argument(help: "SKU: 1-64 characters of A-Z a-z 0-9 . _ -, unique regardless of case.") var sku: String
        @Option(help: "Display name.") var name: String
        @OptionGroup var fields: OptionalFields
        @Option(name: .customLong("barcode"), help: "An EAN-13, EAN-8 or UPC-A code (repeatable).") var barcodes: [String] = []
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let body = API.ProductBody(
                sku: sku, name: name, description: fields.description, price: fields.price, reorderPoint: fields.reorderPoint,
                barcodes: barcodes.isEmpty ? nil : barcodes)
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/products", json: body)
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let product = try node.decode(API.Product.self, reply)
                print("added \(product.sku) \(product.name)")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a product's fields; with --warehouse, set that warehouse's own reorder point.")
        @Argument(help: "SKU") var sku: String
        @OptionGroup var fields: Fields
        @Flag(help: "Remove the price.") var clearPrice = false
        @Flag(help: "Remove the reorder point.") var clearReorderPoint = false
        @Option(help: "Set --reorder-point for this warehouse only.") var warehouse: String?
        @Option(name: .customLong("barcode"), help: "Replace the barcodes with these (repeatable).") var barcodes: [String] = []
        @Flag(help: "Remove every barcode.") var noBarcodes = false
        @OptionGroup var client: ClientOptions

        func validate() throws {
            if noBarcodes, !barcodes.isEmpty { throw ValidationError("give --barcode or --no-barcodes, not both") }
            if warehouse != nil, noBarcodes || !barcodes.isEmpty { throw ValidationError("--warehouse only takes a reorder point") }
            if warehouse != nil {
                guard fields.reorderPoint != nil || clearReorderPoint else { throw ValidationError("--warehouse needs --reorder-point or --clear-reorder-point") }
                guard fields.name == nil, fields.description == nil, fields.price == nil else {
                    throw ValidationError("--warehouse only takes a reorder point")
                }
            } else if fields.name == nil, fields.description == nil, fields.price == nil, fields.reorderPoint == nil, !clearPrice,
                      !clearReorderPoint, barcodes.isEmpty, !noBarcodes
            {
                throw ValidationError("nothing to update: give --name, --description, --price, --reorder-point or --barcode")
            }
        }

        func run() async throws {
            var update = API.ProductUpdate(name: fields.name, description: fields.description)
            if let price = fields.price { update.price = .some(price) }
            if clearPrice { update.price = .some(nil) }
            if let point = fields.reorderPoint { update.reorderPoint = .some(point) }
            if clearReorderPoint { update.reorderPoint = .some(nil) }
            if !barcodes.isEmpty { update.barcodes = barcodes }
            if noBarcodes { update.barcodes = [] }
            // `validate()` lets only a reorder point (or its removal) through with --warehouse.
            let payload: any Encodable = warehouse == nil ? update : API.ReorderPointBody(reorderPoint: update.reorderPoint ?? nil)
            try await NodeClient.with(client) { node in
                let path = warehouse.map { "/v1/products/\(sku)/reorder-points/\($0)" } ?? "/v1/products/\(sku)"
                let reply = try await node.send(warehouse == nil ? .PATCH : .PUT, path, json: payload)
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let product = try node.decode(API.Product.self, reply)
                print("updated \(product.sku) \(product.name)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a product (its history and any stock stay visible).",
            discussion: "Refused while any warehouse holds stock of it or goods of it are in transit, unless --force.")
        @Argument(help: "SKU") var sku: String
        @Flag(help: "Delete it even though stock of it is held somewhere.") var force = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.DELETE, "/v1/products/\(sku)", query: [("force", force ? "true" : nil)])
                if client.json { return try JSONOutput.print(raw: reply.body) }
                print("removed \(sku)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List products.")
        @Flag(help: "Include deleted products.") var includeDeleted = false
        @Option(help: "table, json or csv (the columns `inv import products` reads).") var format: OutputFormat = .table
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/products", query: [("include_deleted", includeDeleted ? "true" : nil)])
                if client.json || format == .json { return try JSONOutput.print(raw: reply.body) }
                let products = try node.decode([API.Product].self, reply)
                if format == .csv {
                    return print(CatalogueCSV.columns.joined(separator: ",") + "\n" + products.map(CatalogueCSV.line).joined(), terminator: "")
                }
                if products.isEmpty { return print("no products") }
                print(Table(
                    headers: ["SKU", "NAME", "PRICE", "REORDER AT", "DELETED"],
                    rows: products.map {
                        [$0.sku, $0.name, $0.price.map(Formatting.price) ?? "-", $0.reorderPoint.map(Formatting.count) ?? "-", $0.deleted ? "yes" : ""]
                    },
                    numeric: [2, 3]).render())
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one product.")
        @Argument(help: "SKU") var sku: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/products/\(sku)")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let product = try node.decode(API.Product.self, reply)
                var lines = [
                    "sku:           \(product.sku)", "name:          \(product.name)",
                    "description:   \(product.description)", "price:         \(product.price.map(Formatting.price) ?? "-")",
                    "reorder point: \(product.reorderPoint.map(Formatting.count) ?? "-")",
                ]
                for (warehouse, point) in (product.warehouseReorderPoints ?? [:]).sorted(by: { $0.key < $1.key }) {
                    lines.append("  at \(warehouse):     \(Formatting.count(point))")
                }
                if let barcodes = product.barcodes, !barcodes.isEmpty { lines.append("barcodes:      \(barcodes.joined(separator: " "))") }
                lines += ["deleted:       \(product.deleted ? "yes" : "no")", "updated:       \(product.updatedAt)"]
                print(lines.joined(separator: "\n"))
            }
        }
    }
}
