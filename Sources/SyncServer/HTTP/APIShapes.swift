import CRDT
import Foundation
import Store

/// The JSON shapes of the API (`docs/openapi.yaml`). Keys are snake_case and stable: clients depend on them.
public enum API {
    public static func timestamp(_ hlc: HLCTimestamp) -> String { timestamp(milliseconds: hlc.physicalMilliseconds) }

    /// ISO 8601 in UTC with milliseconds (`2026-11-23T22:49:07.123Z`), as `Date.ISO8601FormatStyle` with
    /// fractional seconds writes it, computed directly: it is written for every movement answered or listed, and
    /// the format style was a measurable share of those requests.
    public static func timestamp(milliseconds: UInt64) -> String {
        String(unsafeUninitializedCapacity: 24) { out in writeTimestamp(milliseconds: milliseconds, into: out) }
    }

    /// Writes ``timestamp(milliseconds:)``'s text into `out` (at least 24 bytes) and returns its length.
    static func writeTimestamp(milliseconds: UInt64, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let totalSeconds = Int64(milliseconds / 1_000)
        let millisecond = Int(milliseconds % 1_000)
        let days = totalSeconds / 86_400
        let secondOfDay = Int(totalSeconds % 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        var index = 0
        func digits(_ value: Int, _ count: Int) {
            var value = value
            for position in stride(from: count - 1, through: 0, by: -1) {
                out[index + position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            index += count
        }
        func literal(_ character: Unicode.Scalar) {
            out[index] = UInt8(ascii: character)
            index += 1
        }
        digits(year, 4)
        literal("-")
        digits(month, 2)
        literal("-")
        digits(day, 2)
        literal("T")
        digits(secondOfDay / 3_600, 2)
        literal(":")
        digits(secondOfDay / 60 % 60, 2)
        literal(":")
        digits(secondOfDay % 60, 2)
        literal(".")
        digits(millisecond, 3)
        literal("Z")
        return index
    }

    public struct Product: Codable, Sendable {
        public var sku: String
        public var name: String
        public var description: String
        public var price: String?
        public var reorderPoint: Int64?
        public var deleted: Bool
        public var updatedAt: String
        public var warehouseReorderPoints: [String: Int64]?
        /// EAN-13, EAN-8 or UPC-A codes, sorted (always written; `nil` only when read from an older node).
        public var barcodes: [String]?

        init(_ state: ProductState, overrides: [ReorderOverrideRecord]? = nil) {
            sku = state.sku
            name = state.name
            description = state.description
            price = state.price
            reorderPoint = state.reorderPoint
            deleted = state.deleted
            updatedAt = API.timestamp(state.updatedAt)
            barcodes = state.barcodes
            warehouseReorderPoints = overrides.map { list in
                Dictionary(list.compactMap { override in override.reorderPoint.map { (override.warehouse, $0) } }) { a, _ in a }
            }
        }

        enum CodingKeys: String, CodingKey {
            case sku, name, description, price, deleted, barcodes
            case reorderPoint = "reorder_point"
            case updatedAt = "updated_at"
            case warehouseReorderPoints = "warehouse_reorder_points"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sku, forKey: .sku)
            try container.encode(name, forKey: .name)
            try container.encode(description, forKey: .description)
            try container.encode(price, forKey: .price)
            try container.encode(reorderPoint, forKey: .reorderPoint)
            try container.encode(deleted, forKey: .deleted)
            try container.encode(updatedAt, forKey: .updatedAt)
            try container.encode(barcodes ?? [], forKey: .barcodes)
            try container.encodeIfPresent(warehouseReorderPoints, forKey: .warehouseReorderPoints)
        }
    }

    public struct Movement: Codable, Sendable {
        public var id: String
        public var type: String
        public var sku: String
        public var warehouse: String?
        public var quantity: Int64
        public var delta: Int64
        public var origin: String
        public var sequence: UInt64
        public var timestamp: String
        public var user: String
        public var reason: String?
        public var reference: String?
        public var transferID: String?
        public var counterpart: String?
        /// The document this movement is a line of (`null` for a movement made on its own).
        public var document: String?

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
            document = record.document
        }

        enum CodingKeys: String, CodingKey {
            case id, type, sku, warehouse, quantity, delta, origin, sequence, timestamp, user, reason, reference, counterpart
            case document
            case transferID = "transfer_id"
        }

        public func encode(to encoder: any Encoder) throws {
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
            try container.encode(document, forKey: .document)
        }

        public static let csvHeader = "id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart,document\n"

        public var csvLine: String {
            CSV.line([
                .text(id), .text(type), .text(sku), .text(warehouse ?? ""), .number(quantity), .number(delta), .text(origin),
                .number(Int64(clamping: sequence)), .text(timestamp), .text(user), .text(reason ?? ""), .text(reference ?? ""),
                .text(transferID ?? ""), .text(counterpart ?? ""), .text(document ?? ""),
            ])
        }
    }

    /// The movements of an accept or a return of several transfer lines.
    public struct TransferLines: Codable, Sendable {
        public var transfer: String
        /// For a return: the id of the transfer back to the source (which the source accepts).
        public var transferBack: String?
        public var movements: [Movement]

        enum CodingKeys: String, CodingKey {
            case transfer, movements
            case transferBack = "transfer_back"
        }
    }

    public struct StockRow: Codable, Sendable {
        public var sku: String
        public var warehouse: String
        public var quantity: Int64
        public var productDeleted: Bool
        /// With `scope=all`: when this warehouse was last heard from.
        public var lastHeard: String?
        /// On the `in-transit` rows of `scope=all`: the goods in transit per destination warehouse.
        public var inTransitTo: [String: Int64]?

        public init(sku: String, warehouse: String, quantity: Int64, productDeleted: Bool, lastHeard: String? = nil) {
            self.sku = sku
            self.warehouse = warehouse
            self.quantity = quantity
            self.productDeleted = productDeleted
            self.lastHeard = lastHeard
        }

        enum CodingKeys: String, CodingKey {
            case sku, warehouse, quantity
            case productDeleted = "product_deleted"
            case lastHeard = "last_heard"
            case inTransitTo = "in_transit_to"
        }
    }

    /// `GET /v1/snapshot`: a consistent cut of the catalogue, stock and goods in transit, from one read transaction.
    ///
    /// The node streams this shape page by page (``ClusterController``) rather than encoding one value, so that a
    /// large catalogue is never held in memory whole. Its keys are this type's coding keys, each element's keys are
    /// sorted, and rows come in key order, so that equal version vectors give byte-identical documents apart from
    /// `node`.
    public struct Snapshot: Codable, Sendable {
        public static let version = 1
        public var v: Int
        public var node: String
        public var versionVector: [String: UInt64]
        public var products: [Product]
        public var stock: [StockRow]
        public var inTransit: [Transfer]

        enum CodingKeys: String, CodingKey {
            case v, node, products, stock
            case versionVector = "version_vector"
            case inTransit = "in_transit"
        }
    }

    public struct Transfer: Codable, Sendable {
        public var id: String
        public var sku: String
        public var from: String
        public var to: String
        /// Still in transit.
        public var quantity: Int64
        public var shipped: Int64
        public var accepted: Int64
        /// Sent back to the source by the destination (as a transfer back).
        public var returned: Int64?
        public var shippedAt: String?

        init(_ record: TransferRecord) {
            id = record.id
            sku = record.sku
            from = record.from
            to = record.to
            quantity = record.inTransit
            shipped = record.shipped
            accepted = record.accepted
            returned = record.returned
            shippedAt = record.shippedAt.map(API.timestamp)
        }

        enum CodingKeys: String, CodingKey {
            case id, sku, from, to, quantity, shipped, accepted, returned
            case shippedAt = "shipped_at"
        }
    }

    public struct Alert: Codable, Sendable {
        public var sku: String
        public var warehouse: String
        public var quantity: Int64
        public var reorderPoint: Int64
        public var raisedAt: String

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

    public struct ReportRow: Codable, Sendable {
        public var sku: String
        public var warehouse: String
        public var opening: Int64
        public var `in`: Int64
        public var out: Int64
        public var closing: Int64

        init(_ row: MovementReportRow) {
            sku = row.sku
            warehouse = row.warehouse
            opening = row.opening
            self.in = row.incoming
            out = row.outgoing
            closing = row.closing
        }

        public static let csvHeader = "sku,warehouse,opening,in,out,closing\n"
        public var csvLine: String {
            CSV.line([.text(sku), .text(warehouse), .number(opening), .number(self.in), .number(out), .number(closing)])
        }
    }

    /// The certificate a node serves, for `inv status`, `inv cert show` and certificate reloads.
    public struct Certificate: Codable, Sendable {
        public var warehouse: String?
        /// The serial number, lowercase hex: it changes with every rotation.
        public var serial: String
        public var subject: String
        public var issuer: String
        public var notBefore: String
        /// When it expires: rotate before then.
        public var notAfter: String
        public var hosts: [String]
        /// How many times the running node replaced its certificate since it started (absent when read from disk).
        public var reloads: Int?

        public init(_ summary: CertificateSummary, reloads: Int? = nil) {
            warehouse = summary.warehouse
            serial = summary.serial
            subject = summary.subject
            issuer = summary.issuer
            notBefore = API.timestamp(milliseconds: UInt64(max(summary.notBefore.timeIntervalSince1970 * 1_000, 0)))
            notAfter = API.timestamp(milliseconds: UInt64(max(summary.notAfter.timeIntervalSince1970 * 1_000, 0)))
            hosts = summary.hosts
            self.reloads = reloads
        }

        enum CodingKeys: String, CodingKey {
            case warehouse, serial, subject, issuer, hosts, reloads
            case notBefore = "not_before"
            case notAfter = "not_after"
        }
    }

    public struct Token: Codable, Sendable {
        public var id: String
        public var name: String
        public var role: String
        public var createdAt: String
        public var revoked: Bool
        /// Only in the answer to the request that created or rotated it.
        public var token: String?
        /// When the secret was last rotated; absent for a token never rotated.
        public var rotatedAt: String?
        /// Until when the secret replaced by the last rotation still works; absent without a grace period.
        public var previousValidUntil: String?

        init(_ record: TokenRecord, secret: String? = nil) {
            id = record.id
            name = record.name
            role = record.role.rawValue
            createdAt = API.timestamp(milliseconds: UInt64(max(record.createdAt, 0)))
            revoked = record.revokedAt != nil
            token = secret
            rotatedAt = record.rotatedAt.map { API.timestamp(milliseconds: UInt64(max($0, 0))) }
            previousValidUntil = record.previousExpiresAt.map { API.timestamp(milliseconds: UInt64(max($0, 0))) }
        }

        enum CodingKeys: String, CodingKey {
            case id, name, role, revoked, token
            case createdAt = "created_at"
            case rotatedAt = "rotated_at"
            case previousValidUntil = "previous_valid_until"
        }
    }

    /// Every refusal: `{"error": {"code": "...", "message": "..."}}`, with `line` (from 1) when it is about one line
    /// of a document or an import.
    public struct ErrorBody: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public var code: String
            public var message: String
            public var line: Int?
        }

        public var error: Detail
    }

    public struct HistoryPage: Codable, Sendable {
        public var movements: [Movement]
        public var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case movements
            case nextCursor = "next_cursor"
        }
    }
}
