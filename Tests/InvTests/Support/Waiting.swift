import Foundation

/// Waits for a condition about another process (its output, its files, its children), checking it every few
/// milliseconds until it holds or `timeout` passes: the way these tests synchronise, never a fixed sleep.
///
/// The deadline only bounds a wait that would otherwise hang when something is broken; a passing run waits no
/// longer than the condition takes. The caller checks the condition again with `#expect`/`#require`, showing what
/// was seen.
///
/// - Returns: whether the condition held before the deadline.
@discardableResult
func waitUntil(_ timeout: Duration, every interval: Duration = .milliseconds(20), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        let (seconds, attoseconds) = interval.components
        usleep(useconds_t(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}
