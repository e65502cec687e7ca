/// A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014) that stamps
/// local events and absorbs timestamps received from other replicas.
///
/// Timestamps are ``HLCTimestamp`` values: physical milliseconds in the high 48 bits, a logical
/// counter in the low 16. The clock keeps only ``last``, the greatest timestamp it has issued or
/// accepted.
///
/// ## Invariants
///
/// - **Strict monotonicity.** Every timestamp returned by ``now()`` or ``receive(_:)`` is strictly greater
///   than every timestamp previously returned by this value, than the initial `last`, and than every
///   remote timestamp it has accepted — even when the physical clock jumps backwards. (A logical counter
///   that overflows carries into the physical bits.)
/// - **Bounded drift.** ``receive(_:)`` accepts a remote timestamp only if its physical part is at most
///   ``maxOffsetMilliseconds`` ahead of the current wall-clock reading, so one bad peer clock cannot drag
///   this clock arbitrarily far into the future. Precisely: let `M` be the maximum of every wall-clock
///   reading taken so far, the physical part of every accepted remote timestamp and the physical part of
///   the initial `last`. As long as fewer than 65 536 timestamps fall into one millisecond (no logical
///   overflow) and accepted remotes have a logical part below `UInt16.max`, every returned timestamp has
///   `physicalMilliseconds <= M`, hence `<= W + maxOffsetMilliseconds` where `W` is the greatest
///   wall-clock reading so far (provided the initial `last` also satisfied that bound).
/// - **Refusal changes nothing.** When ``receive(_:)`` throws, ``last`` is unchanged.
///
/// The clock is a value: copying it forks it, so keep exactly one instance per replica.
public struct HybridLogicalClock<Clock: PhysicalClock>: Sendable {
    /// The injected wall clock.
    public let clock: Clock

    /// The greatest tolerated lead of a remote timestamp over the local wall clock.
    public let maxOffsetMilliseconds: UInt64

    /// The greatest timestamp issued or accepted so far (persist it to survive restarts).
    public private(set) var last: HLCTimestamp

    /// Creates a clock.
    ///
    /// - Parameters:
    ///   - clock: The wall clock to read.
    ///   - maxOffsetMilliseconds: How far ahead of the wall clock a remote timestamp may be (default 60 s).
    ///   - last: The last timestamp issued before a restart, so that new timestamps continue after it.
    public init(clock: Clock, maxOffsetMilliseconds: UInt64 = 60_000, last: HLCTimestamp = .zero) {
        self.clock = clock
        self.maxOffsetMilliseconds = maxOffsetMilliseconds
        self.last = last
    }

    /// Stamps a local event (or a message about to be sent).
    ///
    /// - Returns: `max(HLCTimestamp(wall, 0), last + 1)`, which becomes the new ``last``.
    /// - Precondition: ``last`` is not ``HLCTimestamp/max`` (reached only past the year 10 000).
    public mutating func now() -> HLCTimestamp {
        let next = Swift.max(wallTimestamp(), Self.successor(of: last))
        last = next
        return next
    }

    /// Absorbs a timestamp received from another replica and stamps the receive event.
    ///
    /// - Parameter remote: The timestamp carried by an incoming message.
    /// - Returns: `max(HLCTimestamp(wall, 0), last + 1, remote + 1)`, which becomes the new ``last``.
    /// - Throws: ``CRDTError/clockDrift(remote:localPhysicalMilliseconds:maxOffsetMilliseconds:)`` when
    ///   `remote` is more than ``maxOffsetMilliseconds`` ahead of the wall clock; the clock is then unchanged.
    public mutating func receive(_ remote: HLCTimestamp) throws(CRDTError) -> HLCTimestamp {
        let wall = wallMilliseconds()
        try Self.check(remote, wall: wall, maxOffset: maxOffsetMilliseconds)
        let next = Swift.max(
            HLCTimestamp(physicalMilliseconds: wall, logical: 0),
            Self.successor(of: last),
            Self.successor(of: remote))
        last = next
        return next
    }

    /// Checks, without changing the clock, whether ``receive(_:)`` would accept `remote` now.
    ///
    /// - Throws: ``CRDTError/clockDrift(remote:localPhysicalMilliseconds:maxOffsetMilliseconds:)`` when
    ///   `remote` is more than ``maxOffsetMilliseconds`` ahead of the wall clock.
    public func check(_ remote: HLCTimestamp) throws(CRDTError) {
        try Self.check(remote, wall: wallMilliseconds(), maxOffset: maxOffsetMilliseconds)
    }

    private static func check(_ remote: HLCTimestamp, wall: UInt64, maxOffset: UInt64) throws(CRDTError) {
        let (limit, overflow) = wall.addingReportingOverflow(maxOffset)
        if !overflow && remote.physicalMilliseconds > limit {
            throw .clockDrift(remote: remote, localPhysicalMilliseconds: wall, maxOffsetMilliseconds: maxOffset)
        }
    }

    /// The wall clock, clamped to what a timestamp can represent.
    private func wallMilliseconds() -> UInt64 {
        Swift.min(clock.nowMilliseconds(), HLCTimestamp.maxPhysicalMilliseconds)
    }

    private func wallTimestamp() -> HLCTimestamp {
        HLCTimestamp(physicalMilliseconds: wallMilliseconds(), logical: 0)
    }

    private static func successor(of timestamp: HLCTimestamp) -> HLCTimestamp {
        guard let next = timestamp.successor else {
            preconditionFailure("hybrid logical clock exhausted: no timestamp after \(timestamp)")
        }
        return next
    }
}
