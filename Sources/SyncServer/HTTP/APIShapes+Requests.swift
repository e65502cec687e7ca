import Store

extension API {
    /// The body of `POST /v1/movements`: a receipt, sale, adjustment or transfer of one product.
    public struct MovementBody: Codable, Sendable {
        public var type: MovementType
        public var sku: String
        /// For an adjustment, the signed change; otherwise the quantity moved.
        public var quantity: Int64
        /// A transfer's destination warehouse.
        public var to: String?
        public var reason: String?
        public var reference: String?
        /// The movement's id (a UUID) chosen by the client, so that a retry records it once; the node picks one
        /// when absent.
        public var id: String?

        public init(
            type: MovementType, sku: String, quantity: Int64, to: String? = nil, reason: String? = nil,
            reference: String? = nil, id: String? = nil
        ) {
            self.type = type
            self.sku = sku
            self.quantity = quantity
            self.to = to
            self.reason = reason
            self.reference = reference
            self.id = id
        }
    }

    /// The body of `POST /v1/transfers/{id}/accept` and `POST /v1/transfers/{id}/return`: every line with goods in
    /// transit, or one product's line (`sku`), or part of it (`quantity`).
    public struct TransferLinesBody: Codable, Sendable {
        public var sku: String?
        public var quantity: Int64?
        public var reason: String?
        public var reference: String?
        public var id: String?

        public init(sku: String? = nil, quantity: Int64? = nil, reason: String? = nil, reference: String? = nil, id: String? = nil) {
            self.sku = sku
            self.quantity = quantity
            self.reason = reason
            self.reference = reference
            self.id = id
        }
    }

    /// The body of `POST /v1/documents`: many lines recorded as one command.
    public struct DocumentBody: Codable, Sendable {
        public var type: DocumentType
        public var lines: [Line]
        /// The destination of a transfer.
        public var to: String?
        public var reason: String?
        public var reference: String?
        public var id: String?
        /// A count only: when counting started, as an ISO 8601 time (`inv scan count` sends its first scan's), so
        /// that its adjustments leave sales made meanwhile alone.
        public var startedAt: String?

        public struct Line: Codable, Sendable {
            public var sku: String
            public var quantity: Int64

            public init(sku: String, quantity: Int64) {
                self.sku = sku
                self.quantity = quantity
            }
        }

        public init(
            type: DocumentType, lines: [Line], to: String? = nil, reason: String? = nil, reference: String? = nil,
            id: String? = nil, startedAt: String? = nil
        ) {
            self.type = type
            self.lines = lines
            self.to = to
            self.reason = reason
            self.reference = reference
            self.id = id
            self.startedAt = startedAt
        }

        enum CodingKeys: String, CodingKey {
            case type, lines, to, reason, reference, id
            case startedAt = "started_at"
        }
    }

    /// The body of `POST /v1/peers`.
    public struct PeerBody: Codable, Sendable {
        /// The peer's sync URL, `https://HOST:PORT`.
        public var url: String

        public init(url: String) { self.url = url }
    }

    /// The body and the answer of `PUT /v1/sync/paused`.
    public struct SyncPaused: Codable, Sendable {
        public var paused: Bool

        public init(paused: Bool) { self.paused = paused }
    }

    /// The body of `POST /v1/tokens`.
    public struct TokenBody: Codable, Sendable {
        public var role: TokenRecord.Role
        /// Unique among live tokens; the node names it `<role>-by-<creator>` when absent.
        public var name: String?

        public init(role: TokenRecord.Role, name: String? = nil) {
            self.role = role
            self.name = name
        }
    }

    /// The body of `POST /v1/tokens/{id}/rotate` (an empty body means no grace period).
    public struct RotationBody: Codable, Sendable {
        /// How long the old secret keeps working, in seconds; absent or 0: it stops at once.
        public var graceSeconds: Int64?

        public init(graceSeconds: Int64?) { self.graceSeconds = graceSeconds }

        enum CodingKeys: String, CodingKey {
            case graceSeconds = "grace_seconds"
        }
    }

    /// The body of `POST /v1/products`.
    public struct ProductBody: Codable, Sendable {
        public var sku: String
        public var name: String
        public var description: String?
        public var price: String?
        public var reorderPoint: Int64?
        /// EAN-13, EAN-8 or UPC-A codes.
        public var barcodes: [String]?

        public init(
            sku: String, name: String, description: String? = nil, price: String? = nil, reorderPoint: Int64? = nil,
            barcodes: [String]? = nil
        ) {
            self.sku = sku
            self.name = name
            self.description = description
            self.price = price
            self.reorderPoint = reorderPoint
            self.barcodes = barcodes
        }

        enum CodingKeys: String, CodingKey {
            case sku, name, description, price, barcodes
            case reorderPoint = "reorder_point"
        }
    }

    /// The body of `PATCH /v1/products/{sku}`: a partial update. An absent key leaves the field alone; `null` clears
    /// a price or reorder point (`.some(nil)` here).
    public struct ProductUpdate: Codable, Sendable {
        public var name: String?
        public var description: String?
        public var price: String??
        public var reorderPoint: Int64??
        /// Replaces the set; `[]` removes every barcode.
        public var barcodes: [String]?

        public init(
            name: String? = nil, description: String? = nil, price: String?? = nil, reorderPoint: Int64?? = nil,
            barcodes: [String]? = nil
        ) {
            self.name = name
            self.description = description
            self.price = price
            self.reorderPoint = reorderPoint
            self.barcodes = barcodes
        }

        enum CodingKeys: String, CodingKey {
            case name, description, price, barcodes
            case reorderPoint = "reorder_point"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decodeIfPresent(String.self, forKey: .name)
            description = try container.decodeIfPresent(String.self, forKey: .description)
            barcodes = try container.decodeIfPresent([String].self, forKey: .barcodes)
            if container.contains(.price) { price = .some(try container.decodeNil(forKey: .price) ? nil : try container.decode(String.self, forKey: .price)) }
            if container.contains(.reorderPoint) {
                reorderPoint = .some(try container.decodeNil(forKey: .reorderPoint) ? nil : try container.decode(Int64.self, forKey: .reorderPoint))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(name, forKey: .name)
            try container.encodeIfPresent(description, forKey: .description)
            if let price { try container.encode(price, forKey: .price) }
            if let reorderPoint { try container.encode(reorderPoint, forKey: .reorderPoint) }
            try container.encodeIfPresent(barcodes, forKey: .barcodes)
        }
    }

    /// The body of `PUT /v1/products/{sku}/reorder-points/{warehouse}`: a warehouse's own reorder point, `null` to
    /// remove it.
    public struct ReorderPointBody: Codable, Sendable {
        public var reorderPoint: Int64?

        public init(reorderPoint: Int64?) { self.reorderPoint = reorderPoint }

        enum CodingKeys: String, CodingKey { case reorderPoint = "reorder_point" }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(reorderPoint, forKey: .reorderPoint)
        }
    }

    /// The body of `POST /v1/imports/products`.
    public struct ImportBody: Codable, Sendable {
        public var products: [ProductBody]

        public init(products: [ProductBody]) { self.products = products }
    }
}
