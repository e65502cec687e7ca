import CoreMetrics
import Store
import Synchronization

/// What a hello (or its reply) brings besides a vector: member certificates, membership decisions and members'
/// addresses.
///
/// A hello carries the whole membership only when the peer may not hold it (``HeldMembership``), and even then most
/// of it is known: what this node already holds is left out here, before anything is submitted, so a round that
/// changes nothing writes nothing. The writer still decides, under its transaction, what is taken of what is
/// submitted.
extension PeerSyncer {
    /// A round's hello: sends this node's vector and membership, takes what the reply brings, and returns the reply.
    ///
    /// The membership goes whole unless the peer's last digest equals this node's; then the digest alone. A peer
    /// whose membership moved since answers with its whole membership, and this node's whole membership follows at
    /// once in a second hello (unless taking the answer left both holding the same), so a change still travels in
    /// the round that finds it. At most two requests.
    func exchangeHellos(with warehouse: String, at url: String) async throws -> SyncHello {
        let membership = try HeldMembership.current(of: node, own: ownCertificate)
        let peerHoldsSame = peers.withLock { $0[warehouse]?.membershipDigest } == membership.digest
        let reply = try await hello(warehouse, at: url, carrying: membership, whole: !peerHoldsSame)
        guard peerHoldsSame, reply.digest != membership.digest else { return reply }
        let now = try HeldMembership.current(of: node, own: ownCertificate)
        guard now.digest != reply.digest else { return reply }
        return try await hello(warehouse, at: url, carrying: now, whole: true)
    }

    /// One hello and what its reply brings: certificates, decisions, members' addresses, and the peer's digest.
    private func hello(_ warehouse: String, at url: String, carrying membership: HeldMembership, whole: Bool) async throws -> SyncHello {
        let me = node.config.warehouse
        let vector = try node.store.reader.versionVector()
        let hello = SyncHello(from: me, vector: vector, membership: membership, whole: whole)
        let reply: SyncHello = try await postJSON(url + "/v1/sync/hello", hello)
        (whole ? wholeHellosSent : digestHellosSent).increment()
        guard reply.from == warehouse else {
            throw SyncFailure("\(url) answers as \(reply.from), expected \(warehouse)", kind: .certificate)
        }
        // Certificates first: a warehouse's retirement of itself verifies with the key its certificate certifies.
        try await OriginProofs.take(reply.certificates, clusterCA: clusterCA, into: node)
        // Retirements and re-admissions count only with the cluster CA's signature, or a warehouse's own for its own
        // retirement (the writer checks it): a peer's word alone retires no one, but a signed retirement reaches
        // this node through any peer.
        try await takeDecisions(reply.decisions)
        if let own = try node.store.reader.members().first(where: { $0.warehouse == me }), own.retired {
            throw SyncFailure("this warehouse was retired from the cluster on \(API.timestamp(own.timestamp))", kind: .retired)
        }
        // A reply is not authenticated as the hello's sender is (by the mutual-TLS handshake on our listener): only
        // unknown members' addresses are taken from it, as hints.
        try await takeAnnouncedMembers(reply.members, by: nil)
        peers.withLock { $0[warehouse]?.membershipDigest = reply.digest }
        return reply
    }

    /// Submits the signed retirements and re-admissions this node does not hold yet (the writer checks each
    /// signature). Nothing is submitted when every one is held.
    func takeDecisions(_ decisions: [MembershipDecision]?) async throws {
        guard let decisions, !decisions.isEmpty else { return }
        let held = Set(try node.store.reader.membershipDecisions())
        let unknown = decisions.prefix(SyncProtocol.maxMembers).filter { !held.contains($0) }
        guard !unknown.isEmpty else { return }
        _ = try await node.store.submit(.decideMembership(Array(unknown)))
    }

    /// Submits the members a peer announced when ``MemberAnnouncementPolicy`` would take any of them from
    /// `announcer` (`nil`: a reply, whose sender is not authenticated as a hello's is).
    func takeAnnouncedMembers(_ members: [MemberRecord], by announcer: String?) async throws {
        let announced = Array(members.prefix(SyncProtocol.maxMembers))
        let accepted = MemberAnnouncementPolicy.accepted(
            announced, announcer: announcer, receiver: node.config.warehouse, known: try node.store.reader.members())
        guard !accepted.isEmpty else { return }
        _ = try await node.store.submit(.announcedMembers(by: announcer, announced))
    }
}
