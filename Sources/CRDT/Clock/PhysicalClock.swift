/// A source of wall-clock time for a ``HybridLogicalClock``.
///
/// The CRDT layer never reads the system clock itself: the caller injects one. Production code
/// passes a clock backed by the system time (it lives outside this module); tests pass a manual clock
/// they can move forwards and backwards.
///
/// The clock may jump backwards (NTP corrections, a user changing the time); the hybrid logical clock
/// stays monotonic regardless.
public protocol PhysicalClock: Sendable {
    /// The current time in milliseconds since the Unix epoch.
    func nowMilliseconds() -> UInt64
}
