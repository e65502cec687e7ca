import CRDT

/// What a node takes from the membership a peer announces in a sync hello (or its reply), and why.
///
/// Membership used to be one LWW register per warehouse, merged whole from every hello: any member could retire
/// another (or the receiver itself), move its address, or add members with any URL, by stamping a newer record.
/// A member is not a master, so a record now has an authority:
/// - A warehouse's **address** is its own: a peer authenticated by its certificate (`announcer`, the warehouse
///   its mutual-TLS certificate names) may announce its own URL, which replaces the one held here, unless it is
///   retired here (an announcement never re-admits).
/// - The **receiver's own** record is never taken from a peer: a node never retires itself or moves its address
///   because a peer said so.
/// - **Retirement** is never taken from a peer: it is decided by an admin on each node (`inv peer remove`), until
///   retirements carry the cluster CA's signature.
/// - A warehouse the receiver does **not know** may be taken as a hint, with its announced URL and not retired, so
///   that nodes that joined through different sponsors still find each other; a hint never overrides a record.
///   Dialling a hint proves nothing: a round first checks that the certificate presented names the warehouse.
/// - Anything not `https://HOST:PORT`, an invalid warehouse id, or a second record for one warehouse is ignored.
public enum MemberAnnouncementPolicy {
    /// The most unknown members one announcement adds (a cluster has a handful; bounds what a hostile peer adds).
    public static let maxHints = 32

    /// The `(warehouse, URL)` records to write, each as an active member.
    ///
    /// - Parameters:
    ///   - announced: the records the peer sent.
    ///   - announcer: the warehouse the peer's certificate names, or `nil` when the sender is not authenticated as
    ///     such (a hello's reply: then only hints are taken).
    ///   - receiver: this node's warehouse.
    ///   - known: the records held here.
    public static func accepted(
        _ announced: [MemberRecord], announcer: String?, receiver: String, known: [MemberRecord]
    ) -> [(warehouse: String, peerURL: String)] {
        let held = Dictionary(known.map { ($0.warehouse, $0) }) { first, _ in first }
        var seen: Set<String> = []
        var hints = 0
        var result: [(warehouse: String, peerURL: String)] = []
        for record in announced {
            guard seen.insert(record.warehouse).inserted, record.warehouse != receiver, !record.retired,
                  ReplicaID.isValid(record.warehouse), PeerURL.isValid(record.peerURL)
            else { continue }
            if let existing = held[record.warehouse] {
                guard record.warehouse == announcer, !existing.retired, existing.peerURL != record.peerURL else { continue }
                result.append((record.warehouse, record.peerURL))
            } else if hints < maxHints || record.warehouse == announcer {
                if record.warehouse != announcer { hints += 1 }
                result.append((record.warehouse, record.peerURL))
            }
        }
        return result
    }
}
