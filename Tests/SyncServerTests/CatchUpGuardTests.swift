import SyncServer
import Testing

/// The rule that lets a restored node write again, without sockets.
@Suite("Catch-up guard after a restore")
struct CatchUpGuardTests {
    @Test func aNodeWithNoOtherMemberWritesAtOnce() {
        let rule = CatchUpGuard(me: "MAD")
        #expect(rule.isSatisfied(activeMembers: []))
        #expect(rule.isSatisfied(activeMembers: ["MAD"]))
    }

    @Test func everyActiveMemberMustHaveBeenPulledFrom() {
        var rule = CatchUpGuard(me: "MAD")
        let members: Set<String> = ["MAD", "SEV", "BIO"]
        #expect(!rule.isSatisfied(activeMembers: members))
        rule.pullCompleted(with: "SEV", peerHolds: 12, weHold: 12)
        #expect(!rule.isSatisfied(activeMembers: members), "BIO may hold newer operations of MAD than SEV")
        #expect(rule.waitingFor(activeMembers: members) == ["BIO"])
        rule.pullCompleted(with: "BIO", peerHolds: 9, weHold: 12)
        #expect(rule.isSatisfied(activeMembers: members))
        #expect(rule.waitingFor(activeMembers: members).isEmpty)
    }

    @Test func aPullThatLeftOurOwnOperationsBehindDoesNotCount() {
        var rule = CatchUpGuard(me: "MAD")
        // The peer announced MAD:15 but only 12 arrived (refused, or the page was cut): not caught up with it.
        rule.pullCompleted(with: "SEV", peerHolds: 15, weHold: 12)
        #expect(!rule.isSatisfied(activeMembers: ["MAD", "SEV"]))
        rule.pullCompleted(with: "SEV", peerHolds: 15, weHold: 15)
        #expect(rule.isSatisfied(activeMembers: ["MAD", "SEV"]))
    }

    @Test func retiringAnUnreachableMemberReleasesTheGuard() {
        var rule = CatchUpGuard(me: "MAD")
        rule.pullCompleted(with: "SEV", peerHolds: 3, weHold: 3)
        #expect(!rule.isSatisfied(activeMembers: ["MAD", "SEV", "BIO"]))
        #expect(rule.isSatisfied(activeMembers: ["MAD", "SEV"]), "BIO retired")
    }

    @Test func thisNodeNeverCountsAsAPeer() {
        var rule = CatchUpGuard(me: "MAD")
        rule.pullCompleted(with: "MAD", peerHolds: 0, weHold: 0)
        #expect(rule.caughtUpWith.isEmpty)
    }
}
