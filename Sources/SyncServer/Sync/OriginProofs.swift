import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable, and X509 imports Crypto the same way.
@preconcurrency import Crypto
import Foundation
import Logging
import Store
import SwiftASN1
import X509

/// The node's side of origin proofs that needs the PKI: which certificates are members', this node's own key and
/// certificate for the store, and the cluster CA's checkpoint of a ledger written before operations were signed.
///
/// The store verifies chains and heads (`ChainVerifier`) with the keys this gives it; it never parses a
/// certificate.
enum OriginProofs {
    /// The most certificates a hello may carry: a member per warehouse, a few rotations each.
    static let maxCertificates = SyncProtocol.maxMembers

    /// `certificate` as the store keeps it, if it is a member certificate issued by `clusterCA` (the CA's
    /// signature checked, its subject naming a warehouse, a P-256 key); `nil` for anything else.
    ///
    /// Validity periods are not checked: a superseded or expired certificate still proves the heads its key
    /// signed while it was current.
    static func originCertificate(_ certificate: Certificate, clusterCA: Certificate) -> OriginCertificate? {
        guard certificate.issuer == clusterCA.subject, clusterCA.publicKey.isValidSignature(certificate.signature, for: certificate),
              let warehouse = ClusterCA.warehouse(of: certificate).flatMap({ try? ReplicaID($0) }),
              let key = P256.Signing.PublicKey(certificate.publicKey)
        else { return nil }
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(certificate)) != nil else { return nil }
        return OriginCertificate(warehouse: warehouse, publicKey: Array(key.x963Representation), certificate: serializer.serializedBytes)
    }

    /// The member certificates among base64 DER texts a peer sent; the others are left out.
    static func originCertificates(base64 texts: [String], clusterCA: Certificate) -> [OriginCertificate] {
        texts.prefix(maxCertificates).compactMap { text in
            guard let der = Data(base64Encoded: text), let certificate = try? Certificate(derEncoded: Array(der)) else { return nil }
            return originCertificate(certificate, clusterCA: clusterCA)
        }
    }

    /// The certificates this node forwards with membership, as base64 DER: those it stored, and its own current one
    /// (stored at start, but a round may come first).
    static func base64Certificates(of node: InvNode, own: Certificate) throws -> [String] {
        var seen = Set<[UInt8]>()
        var texts: [String] = []
        var serializer = DER.Serializer()
        try serializer.serialize(own)
        for der in [serializer.serializedBytes] + (try node.store.reader.originCertificates().map(\.certificate)) where seen.insert(der).inserted {
            texts.append(Data(der).base64EncodedString())
        }
        return texts
    }

    /// Stores the member certificates a peer sent (a hello or its reply); returns how many were new.
    ///
    /// Certificates this node already holds are left out before any signature is checked, and nothing is submitted
    /// when none is new: a whole hello carries every member's certificate, and a round that changes nothing writes
    /// nothing.
    @discardableResult
    static func take(_ texts: [String]?, clusterCA: Certificate, into node: InvNode) async throws -> Int {
        guard let texts, !texts.isEmpty else { return 0 }
        let held = Set(try node.store.reader.originCertificates().map { Data($0.certificate).base64EncodedString() })
        let unknown = texts.filter { !held.contains($0) }
        guard !unknown.isEmpty else { return 0 }
        let certificates = originCertificates(base64: unknown, clusterCA: clusterCA)
        guard !certificates.isEmpty else { return 0 }
        guard case .proofs(let added) = try await node.store.submit(.addOriginCertificates(certificates)) else { return 0 }
        return added
    }

    /// Run once a node starts: stores its own certificate (peers learn its key from it) and, on the node holding
    /// the cluster CA key, signs a checkpoint of a ledger written before operations were signed.
    static func prepare(node: InvNode, credentials: NodeCredentials, logger: Logger) async throws {
        if let own = originCertificate(credentials.node.certificate, clusterCA: credentials.clusterCA) {
            _ = try await node.store.submit(.addOriginCertificates([own]))
        }
        let pki = PKIFiles(directory: node.directory.tlsDirectory)
        guard FileManager.default.fileExists(atPath: node.directory.tlsDirectory + "/" + PKIFiles.caKeyFileName),
              let marks = try node.store.reader.checkpointMarksNeeded()
        else { return }
        let ca = try pki.loadCA()
        let checkpoint = try ChainCheckpoint.signed(marks: marks, caKey: ca.privateKey)
        _ = try await node.store.submit(.saveCheckpoint(checkpoint))
        let covered = marks.values.reduce(0) { $0 + Int($1.last?.sequence ?? 0) }
        logger.notice("signed a checkpoint with the cluster CA key covering \(covered) operations written before operations were signed")
    }
}
