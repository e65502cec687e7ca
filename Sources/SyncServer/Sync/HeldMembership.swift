// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable, and X509 imports Crypto the same way.
import CRDT
@preconcurrency import Crypto
import Foundation
import Store
import X509

/// The membership a hello carries: members' records, member certificates and signed decisions, with a digest of
/// all three.
///
/// Most gossip rounds find nothing new, and a hello carrying every member, every certificate and every decision
/// grows with the company (about 1 KB per warehouse). Two nodes whose digests are equal hold the same membership,
/// so a hello to a peer whose last digest equals this node's carries the digest alone, and a receiver whose digest
/// equals the hello's answers with its digest alone: a quiet round exchanges vectors and digests only
/// (``PeerSyncer/round(warehouse:url:)``, the hello route). Whenever the digests differ the whole membership goes
/// both ways, as before, and what a receiver takes of it is decided as before.
///
/// The digest is SHA-256 over a canonical text (members' addresses by warehouse, certificates sorted, decisions
/// sorted by their JSON with sorted keys), as hex. Members count by address and retirement only: each node keeps
/// its own record of each member, with its own timestamp, and a hello's receiver takes of a member only its
/// address. It decides only whether to send; nothing sent is trusted for its digest. A
/// peer that claims a digest it does not hold only keeps from itself what it would have been sent.
struct HeldMembership: Sendable {
    let members: [MemberRecord]
    /// Base64 DER, as a hello carries them.
    let certificates: [String]
    let decisions: [MembershipDecision]
    /// Computed from the three above when built; they are constants, so it stays theirs.
    let digest: String

    init(members: [MemberRecord], certificates: [String], decisions: [MembershipDecision]) throws {
        self.members = members
        self.certificates = certificates
        self.decisions = decisions
        digest = try Self.digest(members: members, certificates: certificates, decisions: decisions)
    }

    /// What `node` holds now; `own` is its current certificate (stored at start, but a round may come first).
    static func current(of node: InvNode, own: Certificate) throws -> HeldMembership {
        try HeldMembership(
            members: try node.store.reader.members(),
            certificates: try OriginProofs.base64Certificates(of: node, own: own),
            decisions: try node.store.reader.membershipDecisions())
    }

    static func digest(members: [MemberRecord], certificates: [String], decisions: [MembershipDecision]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var text = ""
        // A member's address, not its record: each node keeps its own record of each member (its own timestamp and
        // replica), and what a receiver may take of a member is its address.
        for member in members.sorted(by: { $0.warehouse < $1.warehouse }) {
            text += "m \(member.warehouse) \(member.peerURL) \(member.retired)\n"
        }
        for certificate in Set(certificates).sorted() { text += "c " + certificate + "\n" }
        let decisionTexts = try decisions.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        for decision in Set(decisionTexts).sorted() { text += "d " + decision + "\n" }
        return TokenAuthority.hex(SHA256.hash(data: Data(text.utf8)))
    }
}

extension SyncHello {
    /// A hello carrying `membership`'s digest and, when `whole`, the membership itself; without it, for a peer known
    /// to hold the same.
    init(from warehouse: String, vector: VersionVector, membership: HeldMembership, whole: Bool) {
        if whole {
            self.init(
                from: warehouse, vector: vector, members: membership.members, certificates: membership.certificates,
                decisions: membership.decisions, digest: membership.digest)
        } else {
            self.init(from: warehouse, vector: vector, members: [], digest: membership.digest)
        }
    }
}
