import CRDT
import Store

/// The JSON messages of the peer-sync protocol, version 1. Operation pages travel in ``OperationPage`` form.
///
/// A round between caller C and peer P:
/// 0. Before anything, C makes one TLS handshake to P's URL and checks that the certificate names the warehouse
///    it dials (`PeerIdentity.warehouse(at:tls:)`).
/// 1. `POST /v1/sync/hello` — C sends its version vector and membership; P takes from the membership only what
///    `MemberAnnouncementPolicy` allows (C's own address, unknown members as hints) and answers with its own
///    vector and membership, of which C takes only hints. Every vector is checked (``versionVector(_:)``).
/// 2. `POST /v1/sync/pull` — C sends its vector; P answers one bounded page of the operations C lacks, from every
///    origin (so changes travel transitively), `x-inv-more: 1` when more remain, and `x-inv-highest` naming the
///    page's highest sequence per origin. C merges and repeats.
/// 3. `POST /v1/sync/push` — C sends pages of the operations P lacks (by P's vector from step 1); P merges each.
/// Hellos carry the member certificates each side knows; pages carry, per origin, the newest head they cover, and
/// a receiver applies only operations a valid head of their origin covers (`ChainVerifier`).
/// Merging is idempotent and commutative, so a round cut off half-way is harmless and the next one resumes.
///
/// Beside the rounds, each node keeps a live stream open to each active peer: `POST /v1/sync/stream` with its
/// vector (``SyncStreamRequest``); the peer answers one long body of ``StreamFrame``s: first pages of what the
/// subscriber lacks, then a page of the operations it originates after each of its commits, and a heartbeat
/// frame every ``streamHeartbeatSeconds`` when there is nothing to send. While a peer's stream from a node is open,
/// that node's commits trigger no round with it; anti-entropy rounds go on.
public enum SyncProtocol {
    public static let version = 1
    public static let pageContentType = "application/x-inv-ops+deflate"
    /// A live stream's body: length-prefixed pages (``StreamFrame``).
    public static let streamContentType = "application/x-inv-stream"
    /// A stream with nothing to send sends a heartbeat frame this often: each is a wake-up and a TLS record at both
    /// ends, for each of a node's 2(N-1) streams, the one part of an idle node's work that grows with the cluster.
    public static let streamHeartbeatSeconds = 20.0
    /// A subscriber that receives nothing for this long (three heartbeats; a Redis replica's default
    /// `repl-timeout`) closes its stream and opens another. Meanwhile anti-entropy still repairs.
    public static let streamIdleSeconds: Int64 = 60
    /// A served stream whose write waits this long for the subscriber to read is dropped: the subscriber stopped
    /// reading (frozen, or its link is gone without a reset), and holding its stream would hold its connection
    /// for as long as TCP keeps trying. The subscriber opens another stream from its own vector.
    public static let streamStallSeconds = 30.0
    /// The largest frame a subscriber takes: a page as large as a push may be.
    public static var maxFrameBytes: Int { maxPushBytes }
    public static let moreHeader = "x-inv-more"
    /// On a pull's answer: the highest sequence per origin among the page's operations (see
    /// ``OperationPage/highestHeaderValue(_:)``), so the caller advances its cursor and requests the next page
    /// before decoding this one. Optional: without it the caller decodes the page for it.
    public static let highestHeader = "x-inv-highest"
    public static let defaultPageSize = 50_000
    public static let maxPageSize = 50_000
    /// The largest pushed page body a node takes (413 beyond).
    public static let maxPushBytes = 32 << 20

    /// The most entries a peer's version vector may hold: one per warehouse that ever wrote, far below this.
    public static let maxVectorEntries = 10_000
    /// The most member records a hello may carry.
    public static let maxMembers = 10_000

    /// A peer's version vector from its JSON form, checked: at most ``maxVectorEntries`` entries, valid replica
    /// ids, every sequence at most ``LedgerOperation/maxSequence``.
    ///
    /// Peer input is hostile input: a sequence of 2^63 once trapped a conversion to a stored integer, and entries
    /// summing past 2^64 the lag arithmetic. Checked here, a vector is refused whole (the route answers 400, an
    /// outgoing round fails) before any number of it is used.
    static func versionVector(_ entries: [String: UInt64]) throws(PeerInputError) -> VersionVector {
        guard entries.count <= maxVectorEntries else {
            throw PeerInputError("the version vector has \(entries.count) entries, more than \(maxVectorEntries)")
        }
        var result = VersionVector()
        for (origin, sequence) in entries {
            let replica: ReplicaID
            do { replica = try ReplicaID(origin) } catch { throw PeerInputError("the version vector names an invalid warehouse id") }
            guard sequence <= LedgerOperation.maxSequence else {
                throw PeerInputError("the version vector's entry for \(origin) is \(sequence), above the highest sequence \(LedgerOperation.maxSequence)")
            }
            result.advance(replica, to: sequence)
        }
        return result
    }
}

/// A message from a peer that breaks the protocol's limits, as one line.
public struct PeerInputError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

public struct SyncHello: Codable, Sendable {
    public var v: Int
    /// The sender's warehouse.
    public var from: String
    public var vector: [String: UInt64]
    public var members: [MemberRecord]
    /// Every member certificate the sender knows, current and superseded (base64 DER), so that any node can check
    /// any origin's heads, transitively. A receiver keeps only those the cluster CA signed.
    public var certificates: [String]?
    /// Every retirement and re-admission the sender holds, as signed (with the cluster CA key, or a warehouse's own
    /// key for its own retirement, which then carries `"signer": "warehouse"`): a receiver applies those whose
    /// signature holds, whoever forwarded them (see ``MembershipDecision``).
    public var decisions: [MembershipDecision]?
    /// The digest of the membership the sender holds (``HeldMembership``). When it equals the receiver's, the
    /// message may leave `members`, `certificates` and `decisions` empty: there is nothing to send. Absent from a
    /// node that predates it, which then always sends and receives the whole membership.
    public var digest: String?

    public init(
        from: String, vector: VersionVector, members: [MemberRecord], certificates: [String]? = nil,
        decisions: [MembershipDecision]? = nil, digest: String? = nil
    ) {
        v = SyncProtocol.version
        self.from = from
        self.vector = Dictionary(uniqueKeysWithValues: vector.entries.map { ($0.key.rawValue, $0.value) })
        self.members = members
        self.certificates = certificates
        self.decisions = decisions
        self.digest = digest
    }

    /// The vector as a CRDT value, checked (see ``SyncProtocol/versionVector(_:)``).
    public func versionVector() throws(PeerInputError) -> VersionVector { try SyncProtocol.versionVector(vector) }
}

public struct SyncPullRequest: Codable, Sendable {
    public var v: Int
    public var from: String
    public var vector: [String: UInt64]
    public var limit: Int

    public init(from: String, vector: VersionVector, limit: Int) {
        v = SyncProtocol.version
        self.from = from
        self.vector = Dictionary(uniqueKeysWithValues: vector.entries.map { ($0.key.rawValue, $0.value) })
        self.limit = limit
    }

    /// The vector as a CRDT value, checked (see ``SyncProtocol/versionVector(_:)``).
    public func versionVector() throws(PeerInputError) -> VersionVector { try SyncProtocol.versionVector(vector) }
}

/// Opens a live stream: the subscriber's warehouse and version vector, from which the peer starts sending.
public struct SyncStreamRequest: Codable, Sendable {
    public var v: Int
    public var from: String
    public var vector: [String: UInt64]

    public init(from: String, vector: VersionVector) {
        v = SyncProtocol.version
        self.from = from
        self.vector = Dictionary(uniqueKeysWithValues: vector.entries.map { ($0.key.rawValue, $0.value) })
    }

    /// The vector as a CRDT value, checked (see ``SyncProtocol/versionVector(_:)``).
    public func versionVector() throws(PeerInputError) -> VersionVector { try SyncProtocol.versionVector(vector) }
}

public struct SyncPushReply: Codable, Sendable {
    public var applied: Int
    public var duplicates: Int
    public var refused: Int
}
