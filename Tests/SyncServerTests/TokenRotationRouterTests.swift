import Foundation
import Hummingbird
import HummingbirdTesting
import Store
import Synchronization
import SyncServer
import Testing

/// `POST /v1/tokens/{id}/rotate` through `buildRouter(node:)`, and grace periods judged by an injected clock.
@Suite("API: token rotation", .timeLimit(.minutes(3)))
struct TokenRotationRouterTests {
    static let movement = #"{"type": "receive", "sku": "A", "quantity": 1}"#

    @Test func rotationReplacesTheSecretAndKeepsIdNameAndRole() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let staffID = api.fixture.staffID
            let rotated = try await api.expectStatus(.ok, .post, "/v1/tokens/\(staffID)/rotate", token: api.admin).object()
            #expect(rotated.keySet == RouterTests.tokenKeys.union(["token", "rotated_at"]))
            #expect(rotated.string("id") == staffID)
            #expect(rotated.string("name") == "till-1")
            #expect(rotated.string("role") == "staff")
            #expect(RouterTests.isTimestamp(rotated.string("rotated_at")))
            let secret = try #require(rotated.string("token"))
            #expect(secret.hasPrefix("inv_\(staffID)_") && secret != api.staff)

            // The old secret is refused at once, everywhere; the new one works with the same role.
            try await api.expectRefused(.post, "/v1/movements", token: api.staff, json: Self.movement, status: .unauthorized, code: "unauthorized")
            try await api.expectRefused(.get, "/v1/status", token: api.staff, status: .unauthorized, code: "unauthorized")
            let moved = try await api.expectStatus(.created, .post, "/v1/movements", token: secret, json: Self.movement).object()
            #expect(moved.string("user") == "till-1")
            try await api.expectRefused(.get, "/v1/tokens", token: secret, status: .forbidden, code: "forbidden")

            // Secrets never come back in listings; the rotation time does.
            let listed = try await api.expectStatus(.ok, .get, "/v1/tokens", token: api.admin).array()
            let entry = try #require(listed.first { $0.string("id") == staffID })
            #expect(entry.keySet == RouterTests.tokenKeys.union(["rotated_at"]))
            #expect(listed.allSatisfy { $0.string("token") == nil })
            #expect(try api.fixture.node.store.reader.tokens().allSatisfy { !$0.secretHash.contains(secret.split(separator: "_")[2]) })
        }
    }

    @Test func aGracePeriodKeepsTheOldSecretWorkingUntilItEnds() async throws {
        try await APISession.with { api in
            let reporterID = api.fixture.reporterID
            let rotated = try await api.expectStatus(
                .ok, .post, "/v1/tokens/\(reporterID)/rotate", token: api.admin, json: #"{"grace_seconds": 600}"#
            ).object()
            let secret = try #require(rotated.string("token"))
            let until = try #require(rotated.string("previous_valid_until"))
            let rotatedAt = try #require(rotated.string("rotated_at"))
            let seconds = try #require(DateParsing.milliseconds(until)).subtractingReportingOverflow(
                try #require(DateParsing.milliseconds(rotatedAt))).partialValue
            #expect(seconds == 600_000)
            try await api.expectStatus(.ok, .get, "/v1/status", token: api.reporter)
            try await api.expectStatus(.ok, .get, "/v1/status", token: secret)

            // Rotating again ends the first grace period: only the secret just replaced keeps one.
            let again = try await api.expectStatus(.ok, .post, "/v1/tokens/\(reporterID)/rotate", token: api.admin, json: "{}").object()
            #expect(again.string("previous_valid_until") == nil)
            let third = try #require(again.string("token"))
            try await api.expectRefused(.get, "/v1/status", token: api.reporter, status: .unauthorized, code: "unauthorized")
            try await api.expectRefused(.get, "/v1/status", token: secret, status: .unauthorized, code: "unauthorized")
            try await api.expectStatus(.ok, .get, "/v1/status", token: third)
        }
    }

    @Test func refusals() async throws {
        try await APISession.with { api in
            let staffID = api.fixture.staffID
            for token in [api.staff, api.reporter] {
                try await api.expectRefused(.post, "/v1/tokens/\(staffID)/rotate", token: token, status: .forbidden, code: "forbidden")
            }
            try await api.expectRefused(.post, "/v1/tokens/\(staffID)/rotate", token: nil, status: .unauthorized, code: "unauthorized")
            try await api.expectRefused(.post, "/v1/tokens/nope/rotate", token: api.admin, status: .notFound, code: "unknown_token")
            for json in [#"{"grace_seconds": -1}"#, #"{"grace_seconds": 2592001}"#] {
                try await api.expectRefused(
                    .post, "/v1/tokens/\(staffID)/rotate", token: api.admin, json: json, status: .unprocessableContent, code: "invalid_input")
            }
            for json in [#"{"grace_seconds": "10m"}"#, #"{"grace_seconds": 1.5}"#, "[", "null"] {
                try await api.expectRefused(
                    .post, "/v1/tokens/\(staffID)/rotate", token: api.admin, json: json, status: .badRequest, code: "bad_request")
            }
            try await api.expectStatus(.ok, .delete, "/v1/tokens/\(staffID)", token: api.admin)
            try await api.expectRefused(.post, "/v1/tokens/\(staffID)/rotate", token: api.admin, status: .conflict, code: "token_revoked")
            // Nothing above changed the staff token's secret: it is revoked, not rotated.
            #expect(try api.fixture.node.store.reader.tokens().first { $0.id == staffID }?.rotatedAt == nil)
        }
    }

    @Test func anAdminMayRotateItsOwnToken() async throws {
        try await APISession.with { api in
            let rotated = try await api.expectStatus(.ok, .post, "/v1/tokens/\(api.fixture.adminID)/rotate", token: api.admin).object()
            let secret = try #require(rotated.string("token"))
            try await api.expectRefused(.get, "/v1/tokens", token: api.admin, status: .unauthorized, code: "unauthorized")
            try await api.expectStatus(.ok, .get, "/v1/tokens", token: secret)
        }
    }

    /// The grace period ends at the instant it says, by the authority's clock.
    @Test func theGracePeriodEndsByTheInjectedClock() async throws {
        try await NodeFixture.with { fixture in
            let now = Atomic<Int64>(1_800_000_000_000)
            let authority = try TokenAuthority(store: fixture.node.store, clock: { now.load(ordering: .relaxed) })
            let (_, secret) = try await authority.rotate(
                id: fixture.staffID, graceMilliseconds: 60_000, nowMilliseconds: now.load(ordering: .relaxed))
            #expect(authority.authenticate(secret)?.role == .staff)
            #expect(authority.authenticate(fixture.staff)?.role == .staff)
            now.add(59_999, ordering: .relaxed)
            #expect(authority.authenticate(fixture.staff)?.tokenID == fixture.staffID)
            now.add(1, ordering: .relaxed)
            #expect(authority.authenticate(fixture.staff) == nil)
            #expect(authority.authenticate(secret)?.role == .staff)

            // Without a grace period the old secret ends at once; a negative one is refused.
            let (_, next) = try await authority.rotate(id: fixture.staffID, graceMilliseconds: nil, nowMilliseconds: now.load(ordering: .relaxed))
            #expect(authority.authenticate(secret) == nil)
            #expect(authority.authenticate(next)?.tokenID == fixture.staffID)
            await #expect(throws: StoreError.invalidInput("the grace period cannot be negative")) {
                _ = try await authority.rotate(id: fixture.staffID, graceMilliseconds: -1, nowMilliseconds: 0)
            }
        }
    }
}
