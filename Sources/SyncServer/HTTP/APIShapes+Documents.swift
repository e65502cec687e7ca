import Store

extension API {
    /// A document as `POST /v1/documents` and `GET /v1/documents/{id}` answer it.
    public struct Document: Codable, Sendable {
        public var id: String
        public var type: String
        public var warehouse: String
        /// The destination of a transfer; `null` otherwise.
        public var to: String?
        public var reason: String?
        public var reference: String?
        public var timestamp: String
        public var user: String
        public var lines: [Line]

        public struct Line: Codable, Sendable {
            public var sku: String
            /// The quantity moved (summed over the lines naming the SKU); for a count, the quantity counted.
            public var quantity: Int64
            /// The movement recorded; `null` when the line recorded nothing (a count already right).
            public var movement: String?
            /// Count documents only: the quantity counted, and counted minus what was on hand at submission.
            public var counted: Int64?
            public var adjustment: Int64?

            enum CodingKeys: String, CodingKey { case sku, quantity, movement, counted, adjustment }

            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(sku, forKey: .sku)
                try container.encode(quantity, forKey: .quantity)
                try container.encode(movement, forKey: .movement)
                try container.encodeIfPresent(counted, forKey: .counted)
                try container.encodeIfPresent(adjustment, forKey: .adjustment)
            }
        }

        public init(_ record: DocumentRecord) {
            id = record.id
            type = record.type.rawValue
            warehouse = record.warehouse
            to = record.to
            reason = record.reason
            reference = record.reference
            timestamp = API.timestamp(record.timestamp)
            user = record.user
            let isCount = record.type == .count
            lines = record.lines.map { line in
                Line(
                    sku: line.sku, quantity: line.quantity, movement: line.movement, counted: isCount ? line.quantity : nil,
                    adjustment: isCount ? (line.adjustment ?? 0) : nil)
            }
        }

        enum CodingKeys: String, CodingKey { case id, type, warehouse, to, reason, reference, timestamp, user, lines }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(type, forKey: .type)
            try container.encode(warehouse, forKey: .warehouse)
            try container.encode(to, forKey: .to)
            try container.encode(reason, forKey: .reason)
            try container.encode(reference, forKey: .reference)
            try container.encode(timestamp, forKey: .timestamp)
            try container.encode(user, forKey: .user)
            try container.encode(lines, forKey: .lines)
        }
    }
}

extension API {
    /// What `POST /v1/imports/products` did.
    public struct ImportResult: Codable, Sendable {
        public var created: Int
        public var updated: Int
        public var unchanged: Int

        public init(_ report: ImportReport) {
            created = report.created
            updated = report.updated
            unchanged = report.unchanged
        }
    }
}
