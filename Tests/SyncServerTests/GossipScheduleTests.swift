import SyncServer
import Testing

/// `GossipSchedule` is a pure state machine: driven with hand-picked times and jitters, no sockets, no sleeping.
@Suite("GossipSchedule: one anti-entropy round per interval, with the next peer in the ring of names")
struct GossipScheduleTests {
    typealias Candidate = GossipSchedule.Candidate

    @Test("the first round is due one interval after the start; nothing is chosen before a round is due")
    func firstRoundAfterOneInterval() {
        var schedule = GossipSchedule(interval: 10, now: 100, own: "M")
        #expect(!schedule.isDue(now: 109.9))
        #expect(schedule.roundDue(now: 109.9, candidates: [Candidate(peer: "A", lastSuccess: nil, isAvailable: true)], jitter: 1) == nil)
        #expect(schedule.nextRound == 110, "a round not due changes nothing")
        #expect(schedule.isDue(now: 110))
    }

    @Test("the ring starts after the node's own name, wraps, and goes on from the last peer chosen")
    func ringFromOwnName() {
        var schedule = GossipSchedule(interval: 10, now: 0, own: "M")
        let peers = ["C", "A", "X", "P"].map { Candidate(peer: $0, lastSuccess: 1, isAvailable: true) }
        var chosen: [String?] = []
        for step in 1...5 { chosen.append(schedule.roundDue(now: Double(step) * 10, candidates: peers, jitter: 1)) }
        #expect(chosen == ["P", "X", "A", "C", "P"])
        #expect(schedule.cursor == "P")
    }

    @Test("a peer never synced comes before any other; among those, the ring decides")
    func neverSyncedFirst() {
        var schedule = GossipSchedule(interval: 10, now: 0, own: "M")
        let peers = [
            Candidate(peer: "N", lastSuccess: 5, isAvailable: true),
            Candidate(peer: "Z", lastSuccess: nil, isAvailable: true),
            Candidate(peer: "B", lastSuccess: nil, isAvailable: true),
        ]
        #expect(schedule.roundDue(now: 10, candidates: peers, jitter: 1) == "Z")
        #expect(schedule.roundDue(now: 20, candidates: peers, jitter: 1) == "B", "past Z the ring wraps to B")
        #expect(schedule.roundDue(now: 30, candidates: [Candidate(peer: "N", lastSuccess: 5, isAvailable: true)], jitter: 1) == "N")
    }

    @Test("peers in backoff or in a round are passed over; with none available the round is skipped, not delayed")
    func unavailablePeersArePassedOver() {
        var schedule = GossipSchedule(interval: 10, now: 0, own: "M")
        let peers = [
            Candidate(peer: "A", lastSuccess: 1, isAvailable: false),
            Candidate(peer: "B", lastSuccess: 2, isAvailable: true),
        ]
        #expect(schedule.roundDue(now: 10, candidates: peers, jitter: 1) == "B")
        #expect(schedule.roundDue(now: 20, candidates: [Candidate(peer: "A", lastSuccess: 1, isAvailable: false)], jitter: 1) == nil)
        #expect(schedule.cursor == "B", "a skipped round leaves the ring where it was")
        #expect(schedule.nextRound == 30)
        #expect(schedule.roundDue(now: 30, candidates: [], jitter: 1) == nil)
        #expect(schedule.nextRound == 40)
    }

    @Test("rounds are interval × jitter apart, the jitter clamped to 0.5...1.5; a late round does not bunch the next ones")
    func jitteredSpacing() {
        var schedule = GossipSchedule(interval: 10, now: 0, own: "M")
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
        var schedule = GossipSchedule(interval: 1, now: 0, own: "M")
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

    /// Why a ring: every node meets its peers in the same order when it joins, so "the peer synced least recently"
    /// was the same peer on every node, and each interval one node served the rounds of all the others.
    @Test("with every node in step, each node serves one round per interval, and each pair meets within N − 1")
    func everyNodeServesOneRoundPerInterval() {
        let names = (1...12).map { "W" + ($0 < 10 ? "0" : "") + String($0) }
        var schedules = Dictionary(uniqueKeysWithValues: names.map { ($0, GossipSchedule(interval: 1, now: 0, own: $0)) })
        // Every node met its peers in the same order when it joined: the founding node first.
        let joined = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Double($0) / 100) })
        var lastSuccess = Dictionary(uniqueKeysWithValues: names.map { name in (name, joined.filter { $0.key != name }) })
        var met = Set<[String]>()
        for step in 1...(names.count - 1) {
            var served: [String: Int] = [:]
            for name in names {
                let candidates = names.filter { $0 != name }.map { Candidate(peer: $0, lastSuccess: lastSuccess[name]?[$0], isAvailable: true) }
                guard let peer = schedules[name]?.roundDue(now: Double(step), candidates: candidates, jitter: 1) else {
                    Issue.record("\(name) chose no peer at round \(step)")
                    return
                }
                served[peer, default: 0] += 1
                lastSuccess[name]?[peer] = Double(step)
                met.insert([name, peer].sorted())
            }
            #expect(served.values.allSatisfy { $0 == 1 } && served.count == names.count, "round \(step): \(served)")
        }
        #expect(met.count == names.count * (names.count - 1) / 2, "every pair met")
    }
}
