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

    private let subscribers = Mutex<[UUID: AsyncStream<Delivery>.Continuation]>([:])
    private let bufferSize: Int

    public init(bufferSize: Int = 10_000) { self.bufferSize = bufferSize }

    public func publish(_ events: [StoreEvent]) {
        let current = subscribers.withLock { Array($0.values) }
        for continuation in current {
            for event in events {
                if case .dropped = continuation.yield(.event(event)) { continuation.yield(.lagged) }
            }
        }
    }

    /// A stream of every event committed from now on; it ends when the consumer stops iterating.
    public func subscribe() -> AsyncStream<Delivery> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Delivery>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// Sends a heartbeat to every subscriber.
    public func heartbeat() {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(.heartbeat) }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// Ends every subscription (at shutdown).
    public func finishAll() {
        let all = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for continuation in all { continuation.finish() }
    }
}
