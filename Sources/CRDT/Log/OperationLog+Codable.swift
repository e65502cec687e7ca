extension OperationLog: Codable {
    private struct Record: Codable {
        var origin: ReplicaID
        var sequence: UInt64
        var operation: Operation
    }

    /// Decodes the array form.
    ///
    /// - Throws: `DecodingError.dataCorrupted` for a sequence of 0 or a dot listed twice with different
    ///   operations.
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init()
        while !container.isAtEnd {
            let record = try container.decode(Record.self)
            guard record.sequence >= 1 else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "a dot's sequence starts at 1")
            }
            let dot = Dot(origin: record.origin, sequence: record.sequence)
            if let existing = operations[dot], existing != record.operation {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "dot \(dot) appears twice with different operations")
            }
            insert(record.operation, at: dot)
        }
    }

    /// Encodes the operations as an array sorted by dot.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for (dot, operation) in sortedOperations {
            try container.encode(Record(origin: dot.origin, sequence: dot.sequence, operation: operation))
        }
    }
}

extension OperationLog: WireVersioned {
    public static var wireFormatVersion: Int { 1 }
}
