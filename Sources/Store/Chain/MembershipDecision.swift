import CRDT
import Foundation
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto

/// A warehouse retired from the cluster, or re-admitted, by the cluster CA key's authority, or a warehouse retiring
/// itself with its own key.
///
/// A member is not a master: no peer's word retires a warehouse. A decision is issued by an admin on the node that
/// holds the cluster CA key, signed with it, and travels in every sync hello; each receiver checks the signature
/// against the cluster CA certificate it already trusts and applies the decision whoever forwarded it, so every
/// node (the retired one included) ends with the same membership. A retired node learns its own retirement this way
/// and refuses local writes that no peer would take.
///
/// A warehouse may also retire itself: an admin on its own node signs the retirement with the node key its
/// CA-signed member certificate certifies (``Signer/warehouse``). Receivers check it against that warehouse's
/// certified keys (superseded ones included, as for signed heads) and take it only as what it can be: the
/// retirement of the very warehouse whose key signed it (see ``isAcceptable(clusterKey:keys:)``). Re-admission stays
/// with the cluster CA key alone.
///
/// Per warehouse the newest decision wins (``supersedes(_:)``): decisions are a signed LWW register.
///
/// Signed bytes, version 1 (signed by the cluster CA): the domain tag `inv membership v1`, a zero byte, then
/// `u8 version (1) | text warehouse | u8 retired | u64 timestamp (HLC) | text actor | text issuer`.
/// Version 2 (any other signer) adds the signer: the domain tag `inv membership v2`, a zero byte, then
/// `u8 version (2) | text warehouse | u8 retired | u64 timestamp (HLC) | text actor | text issuer | u8 signer`.
/// A decision signed by the CA keeps version 1, so nodes that know only version 1 still verify it; a version-2
/// decision fails their check and is ignored there, never misread.
public struct MembershipDecision: Hashable, Sendable {
    /// The newest signed-bytes version this build writes.
    public static let version: UInt8 = 2

    /// Whose key signed a decision.
    public enum Signer: UInt8, Hashable, Sendable, CaseIterable {
        /// The cluster CA key: a retirement or a re-admission of any member.
        case clusterCA = 0
        /// The decided warehouse's own node key: only its own retirement.
        case warehouse = 1

        /// Its name in JSON and in the store.
        public var name: String {
            switch self {
            case .clusterCA: "cluster_ca"
            case .warehouse: "warehouse"
            }
        }

        public init?(name: String) {
            guard let signer = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = signer
        }
    }

    public var warehouse: String
    /// `true`: retired; `false`: re-admitted.
    public var retired: Bool
    /// When it was decided; orders decisions about one warehouse.
    public var timestamp: HLCTimestamp
    /// Who decided it: the name of the admin token used.
    public var actor: String
    /// The warehouse whose node issued it: the one holding the cluster CA key, or the warehouse retiring itself.
    public var issuer: String
    /// Whose key signed it (part of the signed bytes from version 2 on).
    public var signer: Signer
    /// ECDSA P-256 over ``message``, raw `r ‖ s`.
    public var signature: [UInt8]

    public init(
        warehouse: String, retired: Bool, timestamp: HLCTimestamp, actor: String, issuer: String,
        signer: Signer = .clusterCA, signature: [UInt8]
    ) {
        self.warehouse = warehouse
        self.retired = retired
        self.timestamp = timestamp
        self.actor = actor
        self.issuer = issuer
        self.signer = signer
        self.signature = signature
    }

    /// The version of the signed bytes: 1 for the cluster CA (as every decision before self-retirement), else 2.
    var format: UInt8 { signer == .clusterCA ? 1 : 2 }

    /// The signed bytes: a domain tag, then every field but the signature.
    var message: [UInt8] {
        var writer = ByteWriter(format: format)
        writer.text(warehouse)
        writer.byte(retired ? 1 : 0)
        writer.uint64(timestamp.rawValue)
        writer.text(actor)
        writer.text(issuer)
        if format >= 2 { writer.byte(signer.rawValue) }
        return Array("inv membership v\(format)".utf8) + [0] + writer.bytes
    }

    /// A decision signed with the cluster CA key.
    public static func signed(
        warehouse: String, retired: Bool, timestamp: HLCTimestamp, actor: String, issuer: String,
        caKey: P256.Signing.PrivateKey
    ) throws -> MembershipDecision {
        var decision = MembershipDecision(
            warehouse: warehouse, retired: retired, timestamp: timestamp, actor: actor, issuer: issuer, signature: [])
        try decision.sign(with: caKey)
        return decision
    }

    /// Signs every field as it is (the signer included) with `key`, replacing the signature.
    public mutating func sign(with key: P256.Signing.PrivateKey) throws {
        signature = Array(try key.signature(for: message).rawRepresentation)
    }

    /// A warehouse's own retirement, signed with its node key (the key its member certificate certifies).
    public static func selfRetirement(
        of warehouse: String, timestamp: HLCTimestamp, actor: String, nodeKey: P256.Signing.PrivateKey
    ) throws -> MembershipDecision {
        var decision = MembershipDecision(
            warehouse: warehouse, retired: true, timestamp: timestamp, actor: actor, issuer: warehouse,
            signer: .warehouse, signature: [])
        try decision.sign(with: nodeKey)
        return decision
    }

    /// Whether the key `key` signed this decision, every field (the signer included) as it is.
    public func isSigned(by key: P256.Signing.PublicKey) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// Whether a receiver takes this decision: the rule every node applies, whoever forwarded it.
    ///
    /// Signed by the cluster CA (`clusterKey`): any retirement or re-admission. Signed by a warehouse: only that
    /// warehouse's own retirement, issued by itself, signed by one of its certified keys (`keys`, superseded ones
    /// included). So a member's key can take its own warehouse out, never another one, and never bring anyone
    /// back: a compromised node cannot retire its peers, nor undo the CA's retirement of itself.
    public func isAcceptable(clusterKey: P256.Signing.PublicKey?, keys: () throws -> [P256.Signing.PublicKey]) rethrows -> Bool {
        switch signer {
        case .clusterCA:
            return clusterKey.map(isSigned(by:)) ?? false
        case .warehouse:
            guard retired, issuer == warehouse else { return false }
            return try keys().contains(where: isSigned(by:))
        }
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
        case warehouse, retired, timestamp, actor, issuer, signer, signature
    }

    /// The signature travels as base64 text.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        warehouse = try container.decode(String.self, forKey: .warehouse)
        retired = try container.decode(Bool.self, forKey: .retired)
        timestamp = try container.decode(HLCTimestamp.self, forKey: .timestamp)
        actor = try container.decode(String.self, forKey: .actor)
        issuer = try container.decode(String.self, forKey: .issuer)
        // Absent before self-retirement: every such decision was signed by the cluster CA.
        if let name = try container.decodeIfPresent(String.self, forKey: .signer) {
            guard let signer = Signer(name: name) else {
                throw DecodingError.dataCorruptedError(forKey: .signer, in: container, debugDescription: "unknown signer \(name)")
            }
            self.signer = signer
        } else {
            signer = .clusterCA
        }
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
        // Left out for the cluster CA: a hello's decisions read as they did before self-retirement existed.
        if signer != .clusterCA { try container.encode(signer.name, forKey: .signer) }
        try container.encode(Data(signature).base64EncodedString(), forKey: .signature)
    }
}
