import Foundation
import Testing

extension InvCLITests {
    /// What a live node logs about its tokens: creations, revocations and failed checks (never a secret), and the
    /// 429 that failed checks get once throttled.
    @Suite("Token audit log and throttling", .serialized)
    struct TokenAuditTests {
        @Test("creations, revocations and failed checks are logged with id and client address, never the secret")
        func tokenEventsAreLogged() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let created = try node.inv("token", "create", "--role", "staff", "--name", "till", "--json")
            #expect(created.status == 0, "\(created)")
            let id = try #require(try JSON.parse(created.stdout)["id"]?.string)
            let secret = String(repeating: "7", count: 48)
            let wrong = "inv_\(id)_\(secret)"
            for _ in 0..<10 {
                #expect(expectOneLineError(try node.inv("token", "list", "--token", wrong)) == "inv: error: missing or invalid bearer token")
            }
            let throttled = expectOneLineError(try node.inv("token", "list", "--token", wrong))
            #expect(throttled.hasPrefix("inv: error: too many failed token checks; retry in "), "\(throttled)")
            // The admin token, from the same address, is not refused.
            #expect(try node.inv("status").status == 0)
            #expect(try node.inv("token", "revoke", id).status == 0)

            let server = try #require(node.server)
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline && !server.stderr.contains("token revoked") { usleep(50_000) }
            let lines = server.stderr.split(separator: "\n").map(String.init)
            let createdLine = try #require(lines.first { $0.contains("token created") }, "\(server.stderr)")
            #expect(createdLine.contains("token=\(id)") && createdLine.contains("name=till") && createdLine.contains("role=staff"))
            #expect(createdLine.contains("by_name=admin"), "\(createdLine)")
            let revokedLine = try #require(lines.first { $0.contains("token revoked") }, "\(server.stderr)")
            #expect(revokedLine.contains("token=\(id)") && revokedLine.contains("by_name=admin"), "\(revokedLine)")
            let failures = lines.filter { $0.contains("token check failed") }
            #expect(failures.count == 10, "\(server.stderr)")
            #expect(failures.allSatisfy { $0.contains("token=\(id)") && $0.contains("client=127.0.0.1") }, "\(failures)")
            #expect(lines.filter { $0.contains("throttling failed token checks") }.count == 2, "address and token id: \(server.stderr)")
            #expect(!server.stderr.contains(secret), "a secret reached the log")
        }
    }
}
