import CRDT
import Foundation
import Hummingbird
import Store

/// The read side: stock, history, reports, alerts and status. Any valid token may read.
struct ReadController {
    let node: InvNode
    var syncer: PeerSyncer? = nil
    /// The TLS credentials served, shown in the status (absent without TLS).
    var credentials: ReloadableCredentials? = nil

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("stock", use: stock)
        group.get("history", use: history)
        group.get("reports/movements", use: movementReport)
        group.get("alerts", use: alerts)
        group.get("status", use: status)
    }

    @Sendable func stock(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        var sku = request.query("sku")
        if let typed = sku {
            guard SKU.isValid(typed) else { throw APIError(.unprocessableContent, "invalid_input", "sku must be 1-64 characters of A-Z a-z 0-9 . _ -") }
            sku = try skuOrBarcode(typed)
        }
        let skus = try Self.skuList(request.query("skus"))
        let scope = request.query("scope") ?? "local"
        guard scope == "local" || scope == "all" else {
            throw APIError(.unprocessableContent, "invalid_input", "scope must be local or all")
        }
        guard scope == "all" || skus == nil else { throw APIError(.unprocessableContent, "invalid_input", "skus needs scope=all") }
        let rows: [StockRow]
        var heard: [String: String] = [:]
        var destinations: [String: [String: Int64]] = [:]
        if scope == "local" {
            rows = try node.store.reader.stock(warehouse: node.store.replica.rawValue, sku: sku)
        } else {
            let overview = try node.store.reader.stockOverview(sku: sku, skus: skus)
            rows = overview.rows
            let named = skus.map(Set.init)
            for moving in overview.inTransit where named?.contains(moving.sku) ?? true {
                destinations[moving.sku, default: [:]][moving.to] = moving.quantity
            }
            // When each warehouse was last heard from: its newest operation held here, or a later successful sync
            // with it, so a report can tell fresh figures from stale ones.
            for (origin, timestamp) in overview.lastHeard { heard[origin] = API.timestamp(timestamp) }
            for status in syncer?.status() ?? [] {
                if let synced = status.lastSync, synced > heard[status.warehouse] ?? "" { heard[status.warehouse] = synced }
            }
            heard[node.config.warehouse] = API.timestamp(milliseconds: SystemClock().nowMilliseconds())
        }
        if let sku, rows.isEmpty, try node.store.reader.product(try SKU(sku)) == nil { throw APIError(.unknownSKU(sku)) }
        return try context.respond(rows.map {
            var row = API.StockRow(sku: $0.sku, warehouse: $0.warehouse, quantity: $0.quantity, productDeleted: $0.productDeleted)
            row.lastHeard = heard[$0.warehouse]
            if $0.warehouse == StockRow.inTransit { row.inTransitTo = destinations[$0.sku] }
            return row
        }, to: request)
    }

    /// The SKU `typed` names where a SKU is expected: a barcode names its product, but a SKU (even of a removed
    /// product) wins over a barcode. Read only for text that is a valid barcode, so a plain SKU costs nothing more.
    private func skuOrBarcode(_ typed: String) throws -> String {
        guard Barcode.isValid(typed), let asSKU = try? SKU(typed), try node.store.reader.product(asSKU) == nil,
              let resolved = try node.store.reader.resolveSKU(typed)
        else { return typed }
        return resolved
    }

    /// The most SKUs one stock request may name in `skus`.
    static let maximumSKUList = 1_000

    /// `skus=A,B,C`: valid SKUs, at most ``maximumSKUList``.
    static func skuList(_ text: String?) throws -> [String]? {
        guard let text else { return nil }
        let skus = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard skus.count <= maximumSKUList else {
            throw APIError(.unprocessableContent, "invalid_input", "skus names at most \(maximumSKUList) SKUs, got \(skus.count)")
        }
        if let bad = skus.first(where: { !SKU.isValid($0) }) {
            throw APIError(.unprocessableContent, "invalid_input", "skus: \(bad.debugDescription.prefix(70)) is not a SKU (1-64 of A-Z a-z 0-9 . _ -)")
        }
        return skus
    }

    static func historyFilter(_ request: Request) throws -> HistoryFilter {
        var filter = HistoryFilter()
        filter.sku = request.query("sku")
        filter.warehouse = request.query("warehouse")
        if let types = request.query("type") {
            var kinds = Set<OperationKind>()
            for name in types.split(separator: ",") {
                guard let kind = OperationKind(rawValue: String(name)) else {
                    let known = OperationKind.allCases.map(\.rawValue).joined(separator: ", ")
                    throw APIError(.unprocessableContent, "invalid_input", "unknown type \(name); known: \(known)")
                }
                kinds.insert(kind)
            }
            filter.kinds = kinds
        }
        filter.sinceMilliseconds = try request.queryDate("since")
        filter.untilMilliseconds = try request.queryDate("until")
        return filter
    }

    @Sendable func history(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        var named = try Self.historyFilter(request)
        named.sku = try named.sku.map(skuOrBarcode)
        let filter = named
        var cursor: HistoryCursor?
        if let token = request.query("cursor") {
            guard let parsed = HistoryCursor(token: token) else { throw APIError(.unprocessableContent, "invalid_input", "invalid cursor") }
            cursor = parsed
        }
        let format = request.query("format") ?? "json"
        switch format {
        case "json":
            let limit = try request.queryInt("limit", range: 1...1_000) ?? 100
            let page = try node.store.reader.history(filter, after: cursor, limit: limit)
            let next = page.count == limit ? page.last.map { HistoryCursor(hlc: $0.timestamp.rawValue, origin: $0.origin, sequence: $0.sequence).token } : nil
            return try context.respond(API.HistoryPage(movements: page.map(API.Movement.init), nextCursor: next), to: request)
        case "csv":
            // Streamed page by page: memory stays bounded however long the history.
            let reader = node.store.reader
            let start = cursor
            var headers = HTTPFields()
            headers[.contentType] = "text/csv; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: API.Movement.csvHeader))
                var after = start
                while true {
                    let page = try reader.history(filter, after: after, limit: 1_000)
                    guard let last = page.last else { break }
                    try await writer.write(ByteBuffer(string: page.map { API.Movement($0).csvLine }.joined()))
                    after = HistoryCursor(hlc: last.timestamp.rawValue, origin: last.origin, sequence: last.sequence)
                    if page.count < 1_000 { break }
                }
                try await writer.finish(nil)
            })
        default:
            throw APIError(.unprocessableContent, "invalid_input", "format must be json or csv")
        }
    }

    @Sendable func movementReport(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        guard let from = try request.queryDate("from"), let to = try request.queryDate("to") else {
            throw APIError(.unprocessableContent, "invalid_input", "from and to are required dates")
        }
        guard from < to else { throw APIError(.unprocessableContent, "invalid_input", "from must be before to") }
        let rows = try node.store.reader.movementReport(fromMilliseconds: from, toMilliseconds: to).map(API.ReportRow.init)
        switch request.query("format") ?? "json" {
        case "json": return try context.respond(rows, to: request)
        case "csv":
            var headers = HTTPFields()
            headers[.contentType] = "text/csv; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: API.ReportRow.csvHeader + rows.map(\.csvLine).joined())))
        default: throw APIError(.unprocessableContent, "invalid_input", "format must be json or csv")
        }
    }

    @Sendable func alerts(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let warehouse = request.query("warehouse")
        return try context.respond(try node.store.reader.alerts().filter { warehouse == nil || $0.warehouse == warehouse }.map(API.Alert.init), to: request)
    }

    @Sendable func status(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let stats = node.store.writer.stats
        let vector = try node.store.reader.versionVector()
        let status = API.Status(
            warehouse: node.config.warehouse, name: node.config.name, url: node.config.url, version: InvNode.version,
            operations: try node.store.reader.operationCount(),
            versionVector: Dictionary(uniqueKeysWithValues: vector.entries.map { ($0.key.rawValue, $0.value) }),
            writeQueue: API.Status.Queue(batches: stats.batches, commands: stats.commands, lastBatchSize: stats.lastBatchSize, largestBatch: stats.largestBatch),
            alerts: try node.store.reader.alerts().count, eventSubscribers: node.events.subscriberCount,
            peers: syncer?.status() ?? [],
            certificate: credentials.map { API.Certificate(CertificateSummary($0.current.node.certificate), reloads: $0.generation) },
            catchingUp: try node.store.reader.isCatchingUp(), historyIndexBacklog: try node.store.reader.historyIndexBacklog(),
            retiredAt: try node.store.reader.members().first { $0.warehouse == node.config.warehouse && $0.retired }
                .map { API.timestamp($0.timestamp) })
        return try context.respond(status, to: request)
    }
}
