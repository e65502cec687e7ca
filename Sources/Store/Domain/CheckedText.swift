/// A text value checked when it is made (``SKU``, ``Barcode``, ``Price``): it has no other form than a valid one,
/// so it decodes from a string through its checking initialiser, refusing what that refuses, and encodes as the
/// string.
public protocol CheckedText: Codable, CustomStringConvertible {
    var rawValue: String { get }
    /// - Throws: ``StoreError/invalidInput(_:)`` naming what is wrong with `raw`.
    init(_ raw: String) throws(StoreError)
}

extension CheckedText {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}
