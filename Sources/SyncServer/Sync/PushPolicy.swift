/// Whether a round pushes to a peer that lacks many operations: a pure decision (no clock, no I/O inside).
///
/// A push exists for real time: a peer hears of a local write at once instead of at its next pull. A peer that
/// lacks more than a page and has itself pulled from this node lately is catching up through its own pipelined
/// pulls; pushing the same backlog at it as well sends every operation twice and makes it decode and discard one
/// copy (a joining node used to receive its whole history both ways). The push then waits until the deficit fits
/// in a page. A peer that has not pulled lately (it may be unable to reach this node) is pushed everything.
public struct PushPolicy: Sendable, Equatable {
    /// How recent a peer's last pull must be for it to count as pulling by itself, in seconds.
    public var activePullWindow: Double

    public init(activePullWindow: Double = 30) {
        self.activePullWindow = activePullWindow
    }

    /// - Parameters:
    ///   - deficit: operations this node holds beyond the peer's announced version vector.
    ///   - pageSize: operations per sync page.
    ///   - lastPullFromPeer: when the peer last pulled from this node (seconds on the caller's monotonic clock),
    ///     or `nil` if it never did.
    public func shouldPush(deficit: UInt64, pageSize: Int, lastPullFromPeer: Double?, now: Double) -> Bool {
        guard deficit > UInt64(max(pageSize, 1)), let last = lastPullFromPeer else { return true }
        return now - last > activePullWindow
    }
}
