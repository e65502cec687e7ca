import CRDT
import Foundation
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto

/// A warehouse retired from the cluster, or re-admitted, by the cluster CA key's authority.
///
/// A member is not a master: no peer's word retires a warehouse. A decision is issued by an admin on the node that
/// holds the cluster CA key, signed with it, and travels in every sync hello; each receiver checks the signature
/// against the cluster CA certificate it already trusts and applies the decision whoever forwarded it, so every
/// node (the retired one included) ends with the same membership. A retired node learns its own retirement this way
/// and refuses local writes that no peer would take.
///
/// Per warehouse the newest decision wins (``supersedes(_:)``): decisions are a signed LWW register.
///
/// Signed bytes, version 1: the domain tag `inv membership v1`, a zero byte, then
/// `u8 version (1) | text warehouse | u8 retired | u64 timestamp (HLC) | text actor | text issuer`.
public struct MembershipDecision: Hashable, Sendable {
    public static let version: UInt8 = 1

    public var warehouse: String
    /// `true`: retired; `false`: re-admitted.
    public var retired: Bool
    /// When it was decided; orders decisions about one warehouse.
    public var timestamp: HLCTimestamp
    /// Who decided it: the name of the admin token used.
    public var actor: String
    /// The warehouse whose node issued it (the one holding the cluster CA key).
    public var issuer: String
    /// ECDSA P-256 over ``message``, raw `r ‖ s`.
    public var signature: [UInt8]

    public init(
        warehouse: String, retired: Bool, timestamp: HLCTimestamp, actor: String, issuer: String, signature: [UInt8]
    ) {
        self.warehouse = warehouse
        self.retired = retired
        self.timestamp = timestamp
        self.actor = actor
        self.issuer = issuer
        self.signature = signature
    }

    /// The signed bytes: a domain tag, then every field but the signature.
    var message: [UInt8] {
        var writer = ByteWriter(format: Self.version)
        writer.text(warehouse)
        writer.byte(retired ? 1 : 0)
        writer.uint64(timestamp.rawValue)
        writer.text(actor)
        writer.text(issuer)
        return Array("inv membership v1".utf8) + [0] + writer.bytes
    }

    /// A decision signed with the cluster CA key.
    public static func signed(
        warehouse: String, retired: Bool, timestamp: HLCTimestamp, actor: String, issuer: String,
        caKey: P256.Signing.PrivateKey
    ) throws -> MembershipDecision {
        var decision = MembershipDecision(
            warehouse: warehouse, retired: retired, timestamp: timestamp, actor: actor, issuer: issuer, signature: [])
        decision.signature = Array(try caKey.signature(for: decision.message).rawRepresentation)
        return decision
    }

    /// Whether the cluster CA key `caKey` signed this decision, every field as it is.
    public func isSigned(by caKey: P256.Signing.PublicKey) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return caKey.isValidSignature(signature, for: message)
    }

    /// Whether this decision wins over `other` about the same warehouse: the later timestamp, then the greater issuer,
    /// then a retirement over a re-admission. A total order, so every node keeps the same one.
    public func supersedes(_ other: MembershipDecision) -> Bool {
        if timestamp != other.timestamp { return timestamp > other.timestamp }
        if issuer != other.issuer { return issuer > other.issuer }
        return retired && !other.retired
    }
}

extension MembershipDecision: Codable {
    enum CodingKeys: String, CodingKey {
        case warehouse, retired, timestamp, actor, issuer, signature
    }

    /// The signature travels as base64 text.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        warehouse = try container.decode(String.self, forKey: .warehouse)
        retired = try container.decode(Bool.self, forKey: .retired)
        timestamp = try container.decode(HLCTimestamp.self, forKey: .timestamp)
        actor = try container.decode(String.self, forKey: .actor)
        issuer = try container.decode(String.self, forKey: .issuer)
        guard let signature = Data(base64Encoded: try container.decode(String.self, forKey: .signature)) else {
            throw DecodingError.dataCorruptedError(forKey: .signature, in: container, debugDescription: "not base64")
        }
        self.signature = Array(signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(warehouse, forKey: .warehouse)
        try container.encode(retired, forKey: .retired)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encode(actor, forKey: .actor)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(Data(signature).base64EncodedString(), forKey: .signature)
    }
}
