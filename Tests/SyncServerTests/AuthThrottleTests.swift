@testable import SyncServer
import Testing

/// ``AuthThrottle`` as a state machine, with the time given by the test.
@Suite("Throttling failed token checks")
struct AuthThrottleTests {
    let policy = AuthThrottle.Policy(limit: 10, window: 60_000, capacity: 100)

    @Test("ten failures from one address within the window throttle it until the window ends")
    func addressIsThrottledUntilTheWindowEnds() {
        var throttle = AuthThrottle(policy: policy)
        for failure in 1...9 {
            #expect(throttle.fail(address: "10.0.0.1", tokenID: nil, now: 1_000 + Int64(failure)) == .unauthorized(failures: failure, started: []))
        }
        #expect(throttle.fail(address: "10.0.0.1", tokenID: nil, now: 2_000) == .unauthorized(failures: 10, started: [.address("10.0.0.1")]))
        #expect(throttle.fail(address: "10.0.0.1", tokenID: nil, now: 2_001) == .throttled(retryAfter: 59))
        #expect(throttle.fail(address: "10.0.0.1", tokenID: "abc", now: 60_500) == .throttled(retryAfter: 1))
        #expect(throttle.checkInvariants())
        // Another address is not affected.
        #expect(throttle.fail(address: "10.0.0.2", tokenID: nil, now: 2_001) == .unauthorized(failures: 1, started: []))
        // The window (from the first failure, at 1,001) ends at 61,001: a fresh count starts.
        #expect(throttle.fail(address: "10.0.0.1", tokenID: nil, now: 61_001) == .unauthorized(failures: 1, started: []))
        #expect(throttle.checkInvariants())
    }

    @Test("failures for one token id from many addresses throttle that id, not the addresses")
    func tokenIDIsThrottledAcrossAddresses() {
        var throttle = AuthThrottle(policy: policy)
        for index in 1...9 {
            _ = throttle.fail(address: "10.0.1.\(index)", tokenID: "t1", now: 0)
        }
        #expect(throttle.fail(address: "10.0.1.10", tokenID: "t1", now: 0) == .unauthorized(failures: 10, started: [.token("t1")]))
        #expect(throttle.fail(address: "10.0.1.11", tokenID: "t1", now: 30_000) == .throttled(retryAfter: 30))
        #expect(throttle.fail(address: "10.0.1.11", tokenID: "t2", now: 30_000) == .unauthorized(failures: 1, started: []))
        #expect(throttle.fail(address: "10.0.1.12", tokenID: nil, now: 30_000) == .unauthorized(failures: 1, started: []))
    }

    @Test("failures spread over more than a window never throttle")
    func slowFailuresNeverThrottle() {
        var throttle = AuthThrottle(policy: policy)
        for index in 0..<100 {
            // One failure every 7 s: at most 9 fall within any one window counted from its first failure.
            let verdict = throttle.fail(address: "10.0.0.1", tokenID: "t1", now: Int64(index) * 7_000)
            guard case .unauthorized = verdict else {
                Issue.record("throttled at failure \(index): \(verdict)")
                return
            }
        }
    }

    @Test("memory stays bounded under failures from many addresses")
    func memoryIsBounded() {
        var throttle = AuthThrottle(policy: policy)
        for index in 0..<10_000 {
            _ = throttle.fail(address: "10.\(index >> 16).\(index >> 8 & 255).\(index & 255)", tokenID: nil, now: Int64(index))
            if index % 997 == 0 { #expect(throttle.checkInvariants()) }
        }
        #expect(throttle.checkInvariants())
    }

    @Test("the token id comes only from a token shaped as this node issues them")
    func tokenIDs() {
        #expect(TokenAuthority.tokenID(of: "inv_0123456789ab_secret") == "0123456789ab")
        for token in ["inv_0123456789AB_secret", "inv_nope_nope", "inv_0123456789abc_x", "garbage", "", "inv__x", "xyz_0123456789ab_s"] {
            #expect(TokenAuthority.tokenID(of: token) == nil, "\(token)")
        }
    }
}
