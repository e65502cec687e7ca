/// A versioned wire form: `{"v": N, "payload": …}`, where `N` is `Payload.wireFormatVersion`.
///
/// Decoding reads `v` before the payload and refuses any version other than
/// `Payload.wireFormatVersion` by throwing ``CRDTError/unsupportedFormatVersion(_:)`` **directly** from
/// `init(from:)` (not wrapped in a `DecodingError`), so `JSONDecoder().decode(...)` rethrows it unchanged
/// and callers can `catch CRDTError.unsupportedFormatVersion`.
public struct WireEnvelope<Payload: WireVersioned>: Codable, Sendable {
    /// The wrapped value.
    public let payload: Payload

    /// Wraps a value for the wire.
    public init(_ payload: Payload) {
        self.payload = payload
    }

    /// The version this envelope is written with (and the only one it accepts).
    public static var version: Int { Payload.wireFormatVersion }

    private enum CodingKeys: String, CodingKey {
        case version = "v"
        case payload
    }

    /// Decodes an envelope.
    ///
    /// - Throws: ``CRDTError/unsupportedFormatVersion(_:)`` when `v` differs from
    ///   `Payload.wireFormatVersion`; the usual `DecodingError`s for malformed input.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version = try container.decode(Int.self, forKey: .version)
        guard version == Payload.wireFormatVersion else {
            throw CRDTError.unsupportedFormatVersion(version)
        }
        payload = try container.decode(Payload.self, forKey: .payload)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Payload.wireFormatVersion, forKey: .version)
        try container.encode(payload, forKey: .payload)
    }
}

extension WireEnvelope: Equatable where Payload: Equatable {}
extension WireEnvelope: Hashable where Payload: Hashable {}
