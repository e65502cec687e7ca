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
        case event(StoreEvent)
        /// Events were dropped because this subscriber read too slowly.
        case lagged
        /// Nothing happened for a while; lets a stream notice a client that went away.
        case heartbeat
    }

    private struct Subscriber: Sendable {
        var continuation: AsyncStream<Delivery>.Continuation
        var mergedOperations: Bool
        var wants: @Sendable (StoreEvent) -> Bool
    }

    private let subscribers = Mutex<[UUID: Subscriber]>([:])
    private let bufferSize: Int

    public init(bufferSize: Int = 10_000) { self.bufferSize = bufferSize }

    public func publish(_ events: CommittedEvents) {
        let current = subscribers.withLock { Array($0.values) }
        for subscriber in current {
            for entry in events.entries {
                switch entry {
                case .event(let event):
                    deliver(event, to: subscriber)
                case .merged(let operations):
                    // Skipped as a whole by subscribers that want no merged operation: a catch-up page is not
                    // walked once per such subscriber.
                    guard subscriber.mergedOperations else { continue }
                    for op in operations { deliver(.operation(op), to: subscriber) }
                }
            }
        }
    }

    public func publish(_ events: [StoreEvent]) { publish(CommittedEvents(events)) }

    private func deliver(_ event: StoreEvent, to subscriber: Subscriber) {
        guard subscriber.wants(event) else { return }
        if case .dropped = subscriber.continuation.yield(.event(event)) { subscriber.continuation.yield(.lagged) }
    }

    /// A stream of the events committed from now on that `filter` accepts (every event by default); it ends when
    /// the consumer stops iterating. With `mergedOperations: false` it gets no operation merged from a peer (the
    /// filter is not even asked): only this node's operations and the alerts.
    ///
    /// The filter runs on the writer's thread for each event and must be cheap. Filtering here rather than in the
    /// consumer matters during a catch-up: a subscriber that wants only local operations is then not woken for each
    /// of the millions merged.
    public func subscribe(
        mergedOperations: Bool = true, where filter: @escaping @Sendable (StoreEvent) -> Bool = { _ in true }
    ) -> AsyncStream<Delivery> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Delivery>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(continuation: continuation, mergedOperations: mergedOperations, wants: filter) }
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
