import Store

extension API {
    /// A cluster member as `GET /v1/peers` lists it (and `POST /v1/peers`, `DELETE /v1/peers/{warehouse}` and
    /// `POST /v1/peers/{warehouse}/readmit` answer it).
    public struct Member: Codable, Sendable {
        public var warehouse: String
        public var peerURL: String
        public var retired: Bool
        /// This node itself.
        public var isSelf: Bool
        public var status: PeerSyncer.PeerStatus?
        /// The newest retirement or re-admission of this warehouse signed with the cluster CA key: who, where, when.
        public var decision: Decision?

        init(
            warehouse: String, peerURL: String, retired: Bool, isSelf: Bool, status: PeerSyncer.PeerStatus?,
            decision: Decision? = nil
        ) {
            self.warehouse = warehouse
            self.peerURL = peerURL
            self.retired = retired
            self.isSelf = isSelf
            self.status = status
            self.decision = decision
        }

        enum CodingKeys: String, CodingKey {
            case warehouse, retired, status, decision
            case peerURL = "peer_url"
            case isSelf = "self"
        }

        public struct Decision: Codable, Sendable {
            public var retired: Bool
            public var user: String
            public var issuer: String
            public var timestamp: String
            /// Whose key signed it: `cluster_ca`, or `warehouse` (a warehouse retiring itself). Absent from nodes
            /// that predate self-retirement.
            public var signer: String?

            init(_ decision: MembershipDecision) {
                retired = decision.retired
                user = decision.actor
                issuer = decision.issuer
                timestamp = API.timestamp(decision.timestamp)
                signer = decision.signer.name
            }
        }
    }

    /// A retirement or re-admission as `GET /v1/membership/decisions` lists it: every one this node took, oldest first.
    public struct MembershipEvent: Codable, Sendable, Equatable {
        public var warehouse: String
        /// `true`: retired; `false`: re-admitted.
        public var retired: Bool
        /// The admin token's name.
        public var user: String
        /// The warehouse whose node decided it.
        public var issuer: String
        /// `cluster_ca`, or `warehouse` (the warehouse retired itself with its own key).
        public var signer: String
        public var timestamp: String

        init(_ entry: MembershipDecisionEntry) {
            warehouse = entry.warehouse
            retired = entry.retired
            user = entry.actor
            issuer = entry.issuer
            signer = entry.signer.name
            timestamp = API.timestamp(entry.timestamp)
        }
    }

    /// A concurrent change found while merging, as `GET /v1/conflicts` lists it.
    public struct Conflict: Codable, Sendable {
        public var kind: String
        public var sku: String
        public var field: String
        public var kept: String?
        public var keptOrigin: String
        public var keptAt: String
        public var overwritten: String?
        public var overwrittenOrigin: String
        public var overwrittenAt: String

        init(_ record: ConflictRecord) {
            kind = record.kind.rawValue
            sku = record.sku
            field = record.field
            kept = record.kept
            keptOrigin = record.keptOrigin
            keptAt = API.timestamp(record.keptAt)
            overwritten = record.overwritten
            overwrittenOrigin = record.overwrittenOrigin
            overwrittenAt = API.timestamp(record.overwrittenAt)
        }

        enum CodingKeys: String, CodingKey {
            case kind, sku, field, kept, overwritten
            case keptOrigin = "kept_origin"
            case keptAt = "kept_at"
            case overwrittenOrigin = "overwritten_origin"
            case overwrittenAt = "overwritten_at"
        }
    }

    /// `GET /v1/status`: the node's state. A node writes every key but `certificate` and `retired_at` when they
    /// do not apply; the optional ones it always writes are read as optional, for a node that did not yet write them.
    public struct Status: Codable, Sendable {
        public var warehouse: String
        public var name: String
        public var url: String
        public var version: String
        public var operations: Int
        public var versionVector: [String: UInt64]
        public var writeQueue: Queue?
        public var alerts: Int
        public var eventSubscribers: Int?
        public var peers: [PeerSyncer.PeerStatus]?
        /// The certificate new connections are served with; absent when the router is served without TLS.
        public var certificate: API.Certificate?
        /// Restored from a backup and refusing local writes until caught up with every active member.
        public var catchingUp: Bool?
        /// Operations not yet in the SKU history index (an upper bound); the writer indexes them when idle.
        public var historyIndexBacklog: Int?
        /// When this warehouse was retired from the cluster (its local writes are then refused); absent otherwise.
        public var retiredAt: String?

        public struct Queue: Codable, Sendable {
            public var batches: Int
            public var commands: Int
            public var lastBatchSize: Int
            public var largestBatch: Int

            enum CodingKeys: String, CodingKey {
                case batches, commands
                case lastBatchSize = "last_batch_size"
                case largestBatch = "largest_batch"
            }
        }

        enum CodingKeys: String, CodingKey {
            case warehouse, name, url, version, operations, alerts, peers, certificate
            case versionVector = "version_vector"
            case writeQueue = "write_queue"
            case eventSubscribers = "event_subscribers"
            case catchingUp = "catching_up"
            case historyIndexBacklog = "history_index_backlog"
            case retiredAt = "retired_at"
        }
    }
}
