import CRDT
import Foundation
import Store

/// The JSON shapes of the API (`docs/openapi.yaml`). Keys are snake_case and stable: clients depend on them.
enum API {
    static func timestamp(_ hlc: HLCTimestamp) -> String { timestamp(milliseconds: hlc.physicalMilliseconds) }

    static func timestamp(milliseconds: UInt64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    struct Product: Codable, Sendable {
        var sku: String
        var name: String
        var description: String
        var price: String?
        var reorderPoint: Int64?
        var deleted: Bool
        var updatedAt: String
        var warehouseReorderPoints: [String: Int64]?

        init(_ state: ProductState, overrides: [ReorderOverrideRecord]? = nil) {
            sku = state.sku
            name = state.name
            description = state.description
            price = state.price
            reorderPoint = state.reorderPoint
            deleted = state.deleted
            updatedAt = API.timestamp(state.updatedAt)
            warehouseReorderPoints = overrides.map { list in
                Dictionary(list.compactMap { override in override.reorderPoint.map { (override.warehouse, $0) } }) { a, _ in a }
            }
        }

        enum CodingKeys: String, CodingKey {
            case sku, name, description, price, deleted
            case reorderPoint = "reorder_point"
            case updatedAt = "updated_at"
            case warehouseReorderPoints = "warehouse_reorder_points"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sku, forKey: .sku)
            try container.encode(name, forKey: .name)
            try container.encode(description, forKey: .description)
            try container.encode(price, forKey: .price)
            try container.encode(reorderPoint, forKey: .reorderPoint)
            try container.encode(deleted, forKey: .deleted)
            try container.encode(updatedAt, forKey: .updatedAt)
            try container.encodeIfPresent(warehouseReorderPoints, forKey: .warehouseReorderPoints)
        }
    }

    struct Movement: Codable, Sendable {
        var id: String
        var type: String
        var sku: String
        var warehouse: String?
        var quantity: Int64
        var delta: Int64
        var origin: String
        var sequence: UInt64
        var timestamp: String
        var user: String
        var reason: String?
        var reference: String?
        var transferID: String?
        var counterpart: String?

        init(_ record: MovementRecord) {
            id = record.id
            type = record.type.rawValue
            sku = record.sku
            warehouse = record.warehouse
            quantity = record.quantity
            delta = record.delta
            origin = record.origin
            sequence = record.sequence
            timestamp = API.timestamp(record.timestamp)
            user = record.user
            reason = record.reason
            reference = record.reference
            transferID = record.transferID
            counterpart = record.counterpart
        }

        enum CodingKeys: String, CodingKey {
            case id, type, sku, warehouse, quantity, delta, origin, sequence, timestamp, user, reason, reference, counterpart
            case transferID = "transfer_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(type, forKey: .type)
            try container.encode(sku, forKey: .sku)
            try container.encode(warehouse, forKey: .warehouse)
            try container.encode(quantity, forKey: .quantity)
            try container.encode(delta, forKey: .delta)
            try container.encode(origin, forKey: .origin)
            try container.encode(sequence, forKey: .sequence)
            try container.encode(timestamp, forKey: .timestamp)
            try container.encode(user, forKey: .user)
            try container.encode(reason, forKey: .reason)
            try container.encode(reference, forKey: .reference)
            try container.encode(transferID, forKey: .transferID)
            try container.encode(counterpart, forKey: .counterpart)
        }

        static let csvHeader = "id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart\n"

        var csvLine: String {
            [id, type, sku, warehouse ?? "", String(quantity), String(delta), origin, String(sequence), timestamp, user,
             reason ?? "", reference ?? "", transferID ?? "", counterpart ?? ""].map(API.csvField).joined(separator: ",") + "\n"
        }
    }

    struct StockRow: Codable, Sendable {
        var sku: String
        var warehouse: String
        var quantity: Int64
        var productDeleted: Bool

        enum CodingKeys: String, CodingKey {
            case sku, warehouse, quantity
            case productDeleted = "product_deleted"
        }
    }

    struct Transfer: Codable, Sendable {
        var id: String
        var sku: String
        var from: String
        var to: String
        /// Still in transit.
        var quantity: Int64
        var shipped: Int64
        var accepted: Int64
        var shippedAt: String?

        init(_ record: TransferRecord) {
            id = record.id
            sku = record.sku
            from = record.from
            to = record.to
            quantity = record.inTransit
            shipped = record.shipped
            accepted = record.accepted
            shippedAt = record.shippedAt.map(API.timestamp)
        }

        enum CodingKeys: String, CodingKey {
            case id, sku, from, to, quantity, shipped, accepted
            case shippedAt = "shipped_at"
        }
    }

    struct Alert: Codable, Sendable {
        var sku: String
        var warehouse: String
        var quantity: Int64
        var reorderPoint: Int64
        var raisedAt: String

        init(_ record: AlertRecord) {
            sku = record.sku
            warehouse = record.warehouse
            quantity = record.quantity
            reorderPoint = record.reorderPoint
            raisedAt = API.timestamp(record.raisedAt)
        }

        enum CodingKeys: String, CodingKey {
            case sku, warehouse, quantity
            case reorderPoint = "reorder_point"
            case raisedAt = "raised_at"
        }
    }

    struct ReportRow: Codable, Sendable {
        var sku: String
        var warehouse: String
        var opening: Int64
        var `in`: Int64
        var out: Int64
        var closing: Int64

        init(_ row: MovementReportRow) {
            sku = row.sku
            warehouse = row.warehouse
            opening = row.opening
            self.in = row.incoming
            out = row.outgoing
            closing = row.closing
        }

        static let csvHeader = "sku,warehouse,opening,in,out,closing\n"
        var csvLine: String { "\(API.csvField(sku)),\(API.csvField(warehouse)),\(opening),\(self.in),\(out),\(closing)\n" }
    }

    struct Token: Codable, Sendable {
        var id: String
        var name: String
        var role: String
        var createdAt: String
        var revoked: Bool
        /// Only in the answer to the request that created it.
        var token: String?

        init(_ record: TokenRecord, secret: String? = nil) {
            id = record.id
            name = record.name
            role = record.role.rawValue
            createdAt = API.timestamp(milliseconds: UInt64(max(record.createdAt, 0)))
            revoked = record.revokedAt != nil
            token = secret
        }

        enum CodingKeys: String, CodingKey {
            case id, name, role, revoked, token
            case createdAt = "created_at"
        }
    }

    struct HistoryPage: Codable, Sendable {
        var movements: [Movement]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case movements
            case nextCursor = "next_cursor"
        }
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
