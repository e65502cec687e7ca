import CRDT
import Foundation

/// The wall clock, in milliseconds since 1970. The only place the store reads real time.
public struct SystemClock: PhysicalClock {
    public init() {}
    public func nowMilliseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000 + UInt64(spec.tv_nsec) / 1_000_000
    }
}
