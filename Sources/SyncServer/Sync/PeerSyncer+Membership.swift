import Store

/// What a hello (or its reply) brings besides a vector: membership decisions and members' addresses.
///
/// Every hello carries the whole membership, and most change nothing: what this node already holds is left out
/// here, before anything is submitted, so a round that changes nothing writes nothing. The writer still decides,
/// under its transaction, what is taken of what is submitted.
extension PeerSyncer {
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
