/// How far a sync round with one peer has come, as `inv sync` shows it on a terminal and `inv serve` logs it.
public struct SyncProgress: Sendable, Equatable {
    /// The peer's warehouse id.
    public var peer: String
    /// Operations merged from the peer so far in this round.
    public var merged: Int
    /// Operations the peer holds that this node still lacks (by the vector the peer announced at the round's start).
    public var behind: UInt64

    public init(peer: String, merged: Int, behind: UInt64) {
        self.peer = peer
        self.merged = merged
        self.behind = behind
    }

    /// One line for all peers with a round in progress, e.g. `syncing with SEV: 120,000 merged, 880,000 behind`;
    /// several peers are joined with `; ` in the order given. Pure: no terminal control characters.
    ///
    /// - Returns: the line, or `nil` when `progress` is empty.
    public static func line(_ progress: [SyncProgress]) -> String? {
        guard !progress.isEmpty else { return nil }
        return "syncing with " + progress.map { "\($0.peer): \(grouped($0.merged)) merged, \(grouped($0.behind)) behind" }
            .joined(separator: "; ")
    }

    /// `1234567` as `1,234,567`, whatever the locale (logs and terminals of every node read the same).
    public static func grouped(_ value: some BinaryInteger) -> String {
        let digits = String(value.magnitude)
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return value < 0 ? "-" + text : text
    }
}
