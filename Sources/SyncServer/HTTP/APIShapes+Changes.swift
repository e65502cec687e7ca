import CRDT
import Foundation
import Store

extension API {
    /// One entry of the change feed: a history entry (``Movement``, the keys of `inv history --json`, `sequence`
    /// among them) and its hybrid logical timestamp, as a decimal string (`hlc`: 48 bits of milliseconds, then 16 of
    /// logical counter; a string because it exceeds the integers a JSON reader in JavaScript keeps exactly).
    public struct Change: Codable, Sendable {
        public var movement: Movement
        public var hlc: String

        init(_ op: LedgerOperation) {
            movement = Movement(MovementRecord(op))
            hlc = String(op.timestamp.rawValue)
        }

        init(movement: Movement, hlc: String) {
            self.movement = movement
            self.hlc = hlc
        }

        /// The timestamp, once checked to be a number the ledger can hold.
        public var hlcValue: UInt64? { UInt64(hlc).flatMap { $0 <= UInt64(Int64.max) ? $0 : nil } }

        enum Key: String, CodingKey { case hlc }

        public init(from decoder: any Decoder) throws {
            movement = try Movement(from: decoder)
            hlc = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .hlc)
        }

        public func encode(to encoder: any Encoder) throws {
            try movement.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(hlc, forKey: .hlc)
        }
    }

    /// `GET /v1/changes`: the operations the cursor did not cover, and the cursor that covers them too.
    public struct ChangesPage: Codable, Sendable {
        public var changes: [Change]
        /// Pass it as `since` to read on; it also covers this page (store it once the page is processed).
        public var next: String
        /// Origins this node knows of operations it cannot deliver yet (not yet merged, or held beyond a gap in
        /// their sequence): they will come in a later answer, in order.
        public var waitingFor: [String]
        /// More changes can be read right now (the page stopped at its limit).
        public var more: Bool

        enum CodingKeys: String, CodingKey {
            case changes, next, more
            case waitingFor = "waiting_for"
        }

        /// The headers of a page answered as tab-separated text (`format=tsv`), which carry what the JSON's keys do.
        public enum Header: String, Sendable {
            /// ``next``.
            case next = "Inv-Next-Cursor"
            /// ``more``: `true` or `false`.
            case more = "Inv-More"
            /// ``waitingFor``, comma-separated (a replica id has no comma); empty when it is.
            case waitingFor = "Inv-Waiting-For"
        }
    }
}
