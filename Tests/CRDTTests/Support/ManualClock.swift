import CRDT
import Synchronization

/// A physical clock that tests set by hand; it can jump forwards and backwards.
///
/// A class (shared by reference) so that a test can move the clock after handing it to a
/// `HybridLogicalClock`.
final class ManualClock: PhysicalClock {
    private let milliseconds: Mutex<UInt64>

    init(_ milliseconds: UInt64 = 0) {
        self.milliseconds = Mutex(milliseconds)
    }

    func nowMilliseconds() -> UInt64 {
        milliseconds.withLock { $0 }
    }

    /// Sets the time.
    func set(_ value: UInt64) {
        milliseconds.withLock { $0 = value }
    }

    /// Moves the time by `delta` milliseconds (negative jumps backwards), stopping at 0.
    func advance(by delta: Int64) {
        milliseconds.withLock { now in
            now = delta >= 0 ? now + UInt64(delta) : now - Swift.min(now, delta.magnitude)
        }
    }
}
