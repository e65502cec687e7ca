import SyncServer
import Testing

/// `GossipSchedule` is a pure state machine: driven with hand-picked times and jitters, no sockets, no sleeping.
@Suite("GossipSchedule: one anti-entropy round per interval, with the peer synced least recently")
struct GossipScheduleTests {
    typealias Candidate = GossipSchedule.Candidate

    @Test("the first round is due one interval after the start; nothing is chosen before a round is due")
    func firstRoundAfterOneInterval() {
        var schedule = GossipSchedule(interval: 10, now: 100)
        #expect(!schedule.isDue(now: 109.9))
        #expect(schedule.roundDue(now: 109.9, candidates: [Candidate(peer: "A", lastSuccess: nil, isAvailable: true)], jitter: 1) == nil)
        #expect(schedule.nextRound == 110, "a round not due changes nothing")
        #expect(schedule.isDue(now: 110))
    }

    @Test("the peer synced least recently is chosen; one never synced first; ties by name")
    func leastRecentlySynced() {
        var schedule = GossipSchedule(interval: 10, now: 0)
        let peers = [
            Candidate(peer: "C", lastSuccess: 5, isAvailable: true),
            Candidate(peer: "A", lastSuccess: 3, isAvailable: true),
            Candidate(peer: "B", lastSuccess: 3, isAvailable: true),
        ]
        #expect(schedule.roundDue(now: 10, candidates: peers, jitter: 1) == "A")
        #expect(schedule.roundDue(now: 20, candidates: peers + [Candidate(peer: "Z", lastSuccess: nil, isAvailable: true)], jitter: 1) == "Z")
        #expect(schedule.roundDue(now: 30, candidates: [
            Candidate(peer: "Y", lastSuccess: nil, isAvailable: true), Candidate(peer: "X", lastSuccess: nil, isAvailable: true),
        ], jitter: 1) == "X")
    }

    @Test("peers in backoff or in a round are passed over; with none available the round is skipped, not delayed")
    func unavailablePeersArePassedOver() {
        var schedule = GossipSchedule(interval: 10, now: 0)
        let peers = [
            Candidate(peer: "A", lastSuccess: 1, isAvailable: false),
            Candidate(peer: "B", lastSuccess: 2, isAvailable: true),
        ]
        #expect(schedule.roundDue(now: 10, candidates: peers, jitter: 1) == "B")
        #expect(schedule.roundDue(now: 20, candidates: [Candidate(peer: "A", lastSuccess: 1, isAvailable: false)], jitter: 1) == nil)
        #expect(schedule.nextRound == 30)
        #expect(schedule.roundDue(now: 30, candidates: [], jitter: 1) == nil)
        #expect(schedule.nextRound == 40)
    }

    @Test("rounds are interval × jitter apart, the jitter clamped to 0.5...1.5; a late round does not bunch the next ones")
    func jitteredSpacing() {
        var schedule = GossipSchedule(interval: 10, now: 0)
        let peers = [Candidate(peer: "A", lastSuccess: nil, isAvailable: true)]
        _ = schedule.roundDue(now: 10, candidates: peers, jitter: 0.5)
        #expect(schedule.nextRound == 15)
        _ = schedule.roundDue(now: 15, candidates: peers, jitter: 7)
        #expect(schedule.nextRound == 30, "a jitter above 1.5 counts as 1.5")
        _ = schedule.roundDue(now: 100, candidates: peers, jitter: .nan)
        #expect(schedule.nextRound == 110, "late: the next round is one interval after this one, not due at once")
    }

    /// The property that makes anti-entropy O(N) for the cluster: over many intervals every peer gets rounds in
    /// turn, and no peer waits more than `peers` rounds for its next one.
    @Test("with every round succeeding, each of N peers gets a round every N rounds")
    func roundRobinUnderSuccess() {
        var schedule = GossipSchedule(interval: 1, now: 0)
        let names = (0..<7).map { "P\($0)" }
        var lastSuccess: [String: Double] = [:]
        var chosen: [String] = []
        for step in 1...70 {
            let now = Double(step)
            let candidates = names.map { Candidate(peer: $0, lastSuccess: lastSuccess[$0], isAvailable: true) }
            guard let peer = schedule.roundDue(now: now, candidates: candidates, jitter: 1) else {
                Issue.record("no peer chosen at \(now)")
                return
            }
            chosen.append(peer)
            lastSuccess[peer] = now
        }
        for start in stride(from: 0, to: 70, by: 7) {
            #expect(Set(chosen[start..<(start + 7)]) == Set(names), "rounds \(start)..<\(start + 7): \(chosen[start..<(start + 7)])")
        }
    }
}
