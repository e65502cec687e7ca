import CRDT
import Foundation
import Hummingbird
import Store

/// `/v1/conflicts` and `/v1/snapshot`: what merging found, and a consistent cut for reporting jobs.
struct ClusterController {
    let node: InvNode

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("conflicts", use: conflicts)
        group.get("snapshot", use: snapshot)
    }

    @Sendable func conflicts(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        return try context.respond(try node.store.reader.conflicts().map(API.Conflict.init), to: request)
    }

    /// Streams an ``API/Snapshot`` from one read transaction, page by page: equal version vectors give
    /// byte-identical documents apart from `node`.
    @Sendable func snapshot(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let snapshot = try node.store.reader.snapshot()
        let warehouse = node.config.warehouse
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            func json(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
            typealias Key = API.Snapshot.CodingKeys
            func key(_ key: Key) -> String { "\"\(key.stringValue)\":" }
            let vector = try snapshot.versionVector()
            let vectorJSON = try json(Dictionary(uniqueKeysWithValues: vector.entries.map { ($0.key.rawValue, $0.value) }))
            try await writer.write(ByteBuffer(string: "{" + key(.v) + "\(API.Snapshot.version)," + key(.node) + (try json(warehouse))
                + "," + key(.versionVector) + vectorJSON + "," + key(.products) + "["))
            var first = true
            var productCursor: String?
            while true {
                let page = try snapshot.products(after: productCursor, limit: 1_000)
                guard let last = page.last else { break }
                let text = try page.map { try json(API.Product($0)) }.joined(separator: ",")
                try await writer.write(ByteBuffer(string: (first ? "" : ",") + text))
                first = false
                productCursor = last.sku
            }
            try await writer.write(ByteBuffer(string: "]," + key(.stock) + "["))
            first = true
            var stockCursor: (String, String)?
            while true {
                let page = try snapshot.stock(after: stockCursor, limit: 2_000)
                guard let last = page.last else { break }
                let text = try page.map {
                    try json(API.StockRow(sku: $0.sku, warehouse: $0.warehouse, quantity: $0.quantity, productDeleted: $0.productDeleted))
                }.joined(separator: ",")
                try await writer.write(ByteBuffer(string: (first ? "" : ",") + text))
                first = false
                stockCursor = (last.sku, last.warehouse)
            }
            try await writer.write(ByteBuffer(string: "]," + key(.inTransit) + "["))
            first = true
            var transferCursor: (id: String, sku: String)?
            while true {
                let page = try snapshot.inTransit(after: transferCursor, limit: 2_000)
                guard let last = page.last else { break }
                let text = try page.map { try json(API.Transfer($0)) }.joined(separator: ",")
                try await writer.write(ByteBuffer(string: (first ? "" : ",") + text))
                first = false
                transferCursor = (last.id, last.sku)
            }
            try await writer.write(ByteBuffer(string: "]}\n"))
            try await writer.finish(nil)
        })
    }
}
