import CRDT
import Foundation
import Store
import Synchronization

/// Fans committed store events out to live subscribers (the `/v1/events` streams, the webhook, peers).
///
/// `publish` is called on the writer thread after each commit and never blocks it: each subscriber has its own
/// bounded buffer, and a subscriber that falls more than `bufferSize` events behind loses the oldest ones (it is
/// told so by a `lagged` event) rather than slowing writes.
public final class EventHub: Sendable {
    public enum Delivery: Sendable {
        /// An event; for a movement, to a subscriber that asked for stock, its warehouse's stock of its SKU as the
        /// transaction that committed it left it (`nil` if the transaction did not report it).
        case event(StoreEvent, onHand: Int64?)
        /// Events were dropped because this subscriber read too slowly.
        case lagged
        /// Nothing happened for a while; lets a stream notice a client that went away.
        case heartbeat
    }

    private struct Subscriber: Sendable {
        var continuation: AsyncStream<Delivery>.Continuation
        var mergedOperations: Bool
        var stock: Bool
        var wants: @Sendable (StoreEvent) -> Bool
    }

    private let subscribers = Mutex<[UUID: Subscriber]>([:])
    private let bufferSize: Int

    public init(bufferSize: Int = 10_000) { self.bufferSize = bufferSize }

    public func publish(_ events: CommittedEvents) {
        let current = subscribers.withLock { Array($0.values) }
        let stock = current.contains(where: \.stock) ? events.stockAfter() : [:]
        for subscriber in current {
            let stock = subscriber.stock ? stock : [:]
            for entry in events.entries {
                switch entry {
                case .event(let event):
                    deliver(event, stock: stock, to: subscriber)
                case .merged(let operations):
                    // Skipped as a whole by subscribers that want no merged operation: a catch-up page is not
                    // walked once per such subscriber.
                    guard subscriber.mergedOperations else { continue }
                    for op in operations { deliver(.operation(op), stock: stock, to: subscriber) }
                case .stock:
                    continue
                }
            }
        }
    }

    public func publish(_ events: [StoreEvent]) { publish(CommittedEvents(events)) }

    private func deliver(_ event: StoreEvent, stock: [SKU: [ReplicaID: Int64]], to subscriber: Subscriber) {
        guard subscriber.wants(event) else { return }
        var onHand: Int64?
        if !stock.isEmpty, case .operation(let op) = event, op.kind.isMovement, let warehouse = op.warehouse {
            onHand = stock[op.sku]?[warehouse]
        }
        if case .dropped = subscriber.continuation.yield(.event(event, onHand: onHand)) { subscriber.continuation.yield(.lagged) }
    }

    /// Whether a subscriber asked for stock: the writer's ``LedgerWriter/Configuration/reportsStock``, asked once per
    /// transaction (a look at the few subscribers, under the lock `publish` takes for each commit anyway).
    public var reportsStock: Bool { subscribers.withLock { $0.values.contains(where: \.stock) } }

    /// A stream of the events committed from now on that `filter` accepts (every event by default); it ends when
    /// the consumer stops iterating. With `mergedOperations: false` it gets no operation merged from a peer (the
    /// filter is not even asked): only this node's operations and the alerts.
    ///
    /// The filter runs on the writer's thread for each event and must be cheap. Filtering here rather than in the
    /// consumer matters during a catch-up: a subscriber that wants only local operations is then not woken for each
    /// of the millions merged.
    ///
    /// With `stock: true`, each movement comes with its warehouse's stock as its transaction left it, when the
    /// transaction reported it (one committed before the subscription, say, may not have).
    public func subscribe(
        mergedOperations: Bool = true, stock: Bool = false, where filter: @escaping @Sendable (StoreEvent) -> Bool = { _ in true }
    ) -> AsyncStream<Delivery> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Delivery>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock {
            $0[id] = Subscriber(continuation: continuation, mergedOperations: mergedOperations, stock: stock, wants: filter)
        }
        return stream
    }

    /// Sends a heartbeat to every subscriber.
    public func heartbeat() {
        for subscriber in subscribers.withLock({ Array($0.values) }) { subscriber.continuation.yield(.heartbeat) }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Ends every subscription (at shutdown).
    public func finishAll() {
        let all = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for subscriber in all { subscriber.continuation.finish() }
    }
}
