import SyncServer
import Testing

@Suite("Push policy: a peer catching up by pulling is not pushed the same backlog")
struct PushPolicyTests {
    let policy = PushPolicy(activePullWindow: 30)

    @Test func smallDeficitsArePushedForRealTime() {
        // A local write or a page's worth: pushed at once, whether or not the peer pulls.
        #expect(policy.shouldPush(deficit: 1, pageSize: 5_000, lastPullFromPeer: 99, now: 100))
        #expect(policy.shouldPush(deficit: 5_000, pageSize: 5_000, lastPullFromPeer: 99, now: 100))
    }

    @Test func aLargeDeficitWaitsWhileThePeerPullsByItself() {
        #expect(!policy.shouldPush(deficit: 5_001, pageSize: 5_000, lastPullFromPeer: 99, now: 100))
        #expect(!policy.shouldPush(deficit: 1_000_000, pageSize: 5_000, lastPullFromPeer: 70, now: 100))
    }

    @Test func aPeerThatDoesNotPullIsPushedEverything() {
        // It may be unable to reach this node: the push is its only way to catch up.
        #expect(policy.shouldPush(deficit: 1_000_000, pageSize: 5_000, lastPullFromPeer: nil, now: 100))
        #expect(policy.shouldPush(deficit: 1_000_000, pageSize: 5_000, lastPullFromPeer: 69, now: 100))
    }
}
