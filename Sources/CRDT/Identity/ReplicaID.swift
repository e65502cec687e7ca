/// The stable identity of one replica (a device or a server) in the sync mesh.
///
/// A replica ID is 1 to 32 ASCII characters from `[A-Za-z0-9_-]`. The restriction keeps IDs safe to use
/// as JSON object keys, file names, log fields and SQL values without escaping, and makes the byte
/// order (used to break ties between equal timestamps) unambiguous.
///
/// Invariants: `rawValue` always satisfies the rule above; no initializer (including decoding) can
/// produce an invalid ID.
///
/// Ordering is the lexicographic order of the UTF-8 bytes of `rawValue` (for these ASCII IDs this is
/// also the order of the characters), a total order used by ``LWWRegister`` tie-breaks.
///
/// Encodes as a single JSON string, for example `"shop-1"`.
public struct ReplicaID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The most characters a replica ID may have.
    public static let maximumLength = 32

    /// The validated identifier.
    public let rawValue: String

    /// Creates a replica ID after validating it.
    ///
    /// - Parameter raw: 1 to 32 ASCII characters from `[A-Za-z0-9_-]`.
    /// - Throws: ``CRDTError/invalidReplicaID(_:)`` when `raw` breaks the rule.
    public init(_ raw: String) throws(CRDTError) {
        guard Self.isValid(raw) else { throw .invalidReplicaID(raw) }
        rawValue = raw
    }

    /// Whether `raw` would be accepted by ``init(_:)``.
    public static func isValid(_ raw: String) -> Bool {
        let bytes = raw.utf8
        guard (1...maximumLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard Self.isValid(raw) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: CRDTError.invalidReplicaID(raw).description,
                    underlyingError: CRDTError.invalidReplicaID(raw)
                )
            )
        }
        rawValue = raw
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
