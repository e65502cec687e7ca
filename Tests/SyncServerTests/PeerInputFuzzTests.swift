import CRDT
import Foundation
import NIOCore
import Store
import SyncServer
import Testing

/// Peer input is hostile input: a member holding a real certificate of the cluster sends extreme and random
/// values to every peer route (hello, pull, push) of a live mutual-TLS peer listener. Every answer is a 2xx or a
/// 4xx, never a 5xx or a crash; after every 4xx the node's state is what it was; the node answers a valid pull at
/// the end.
@Suite("Peer input: extreme and random values on hello, pull and push never crash the node")
struct PeerInputFuzzTests {
    /// Numbers around every boundary a sequence, limit or version crosses, as JSON texts (some not integers).
    static let numbers = [
        "0", "1", "2", "9223372036854775805", "9223372036854775806", "9223372036854775807", "9223372036854775808",
        "18446744073709551615", "18446744073709551616", "-1", "-9223372036854775808", "-9223372036854775809", "1.5",
        "1e300", "\"7\"", "null", "true", "[]", "{}",
    ]

    /// Gives the node a product and a movement, so that an unchanged state is not just an empty one.
    static func seed(_ fixture: NodeFixture) async throws {
        _ = try await fixture.node.store.submit(.createProduct(ProductDraft(sku: try SKU("A"), name: "Apple"), actor: "admin"))
        _ = try await fixture.node.store.submit(.movement(MovementRequest(
            type: .receive, sku: try SKU("A"), quantity: 5, id: "5b2d1c4e-1111-4222-8333-444455556666", actor: "admin")))
    }

    static func pull(vector: String, limit: String = "10", from: String = "\"C\"", v: String = "1") -> String {
        "{\"v\":\(v),\"from\":\(from),\"vector\":\(vector),\"limit\":\(limit)}"
    }

    static func hello(vector: String, members: String = "[]", from: String = "\"C\"", v: String = "1") -> String {
        "{\"v\":\(v),\"from\":\(from),\"vector\":\(vector),\"members\":\(members)}"
    }

    @Test("the reported crashes: a pull naming 2^63 and a hello naming 2^64-1 are 400s; the node is unchanged and answers")
    func reportedCrashes() async throws {
        try await NodeFixture.with { fixture in
            try await Self.seed(fixture)
            try await LivePeerServer.run(fixture) { client in
                let before = try fixture.snapshot()
                let members = try fixture.node.store.reader.members()
                for body in [
                    Self.pull(vector: "{\"MAD\":9223372036854775808}", limit: "1"),
                    Self.pull(vector: "{\"A\":9223372036854775808}", limit: "1"),
                    Self.pull(vector: "{\"MAD\":18446744073709551615}"),
                    Self.hello(vector: "{\"A\":18446744073709551615,\"B\":18446744073709551615}"),
                    Self.hello(vector: "{\"A\":9223372036854775807}"),
                ] {
                    let answer = try await client.post(body.contains("members") ? "/v1/sync/hello" : "/v1/sync/pull", json: body)
                    #expect(answer.status == 400, "\(body) -> \(answer)")
                    #expect(answer.body.contains("invalid_vector"), "\(answer)")
                }
                #expect(try fixture.snapshot() == before)
                #expect(try fixture.node.store.reader.members() == members)
                // Entries that each fit but add up past 2^64 are accepted; counting lag with them saturates.
                let big = Self.hello(vector: "{\"A\":9223372036854775806,\"B\":9223372036854775806,\"D\":9223372036854775806}")
                #expect(try await client.post("/v1/sync/hello", json: big).status == 200)
                let alive = try await client.post("/v1/sync/pull", json: Self.pull(vector: "{}"))
                #expect(alive.status == 200, "\(alive)")
            }
        }
    }

    @Test("seeded: random and extreme vectors, limits, versions, senders and garbled bodies on hello, pull and push")
    func randomPeerInput() async throws {
        let seed = SplitMix64.testSeed()
        print("PeerInputFuzzTests.randomPeerInput seed \(seed) (replay with INV_TEST_SEED=\(seed))")
        try await NodeFixture.with { fixture in
            try await Self.seed(fixture)
            // A known member: records about it from C are never taken.
            _ = try await fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8443", retired: false))
            let valid = try OperationPage.encode(try fixture.ownOperations())
            try await LivePeerServer.run(fixture) { client in
                var random = SplitMix64(seed: seed)
                let members = try fixture.node.store.reader.members()
                for round in 0..<150 {
                    let before = try fixture.snapshot()
                    let (path, body, headers) = Self.request(&random, validPage: valid)
                    let answer = try await client.post(path, body, headers: headers)
                    #expect(answer.status < 500, "seed \(seed), round \(round): \(path) answered \(answer)")
                    if (400..<500).contains(answer.status) {
                        #expect(try fixture.snapshot() == before, "seed \(seed), round \(round): a refused \(path) changed the state")
                    }
                }
                #expect(try fixture.node.store.reader.members().filter { $0.warehouse != "C" } == members.filter { $0.warehouse != "C" })
                let alive = try await client.post("/v1/sync/pull", json: Self.pull(vector: "{}"))
                #expect(alive.status == 200, "seed \(seed): \(alive)")
            }
        }
    }

    /// One random request to a peer route.
    static func request(_ random: inout SplitMix64, validPage: ByteBuffer) -> (String, [UInt8], [(String, String)]) {
        let json = [("Content-Type", "application/json")]
        switch Int.random(in: 0..<10, using: &random) {
        case 0...2:
            return ("/v1/sync/pull", Array(pull(
                vector: vector(&random), limit: numbers.randomElement(using: &random)!, from: sender(&random),
                v: Int.random(in: 0..<4, using: &random) == 0 ? numbers.randomElement(using: &random)! : "1").utf8), json)
        case 3...5:
            return ("/v1/sync/hello", Array(hello(
                vector: vector(&random), members: memberList(&random), from: sender(&random),
                v: Int.random(in: 0..<4, using: &random) == 0 ? numbers.randomElement(using: &random)! : "1").utf8), json)
        case 6:
            // A valid body cut short, or with random bytes.
            let text = Array(pull(vector: vector(&random)).utf8)
            var bytes = Array(text.prefix(Int.random(in: 0...text.count, using: &random)))
            if Bool.random(using: &random) { bytes += (0..<Int.random(in: 1...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } }
            return (["/v1/sync/pull", "/v1/sync/hello"].randomElement(using: &random)!, bytes, json)
        default:
            // Pushes: the node's own page (refused: its own operations), random bytes, or a page with bytes changed.
            var page = Array(validPage.readableBytesView)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: break
            case 1: page = (0..<Int.random(in: 0...256, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default:
                for _ in 0..<Int.random(in: 1...4, using: &random) where !page.isEmpty {
                    page[Int.random(in: 0..<page.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            return ("/v1/sync/push", page, [("Content-Type", SyncProtocol.pageContentType), ("x-inv-from", "C")])
        }
    }

    static func sender(_ random: inout SplitMix64) -> String {
        ["\"C\"", "\"C\"", "\"C\"", "\"MAD\"", "\"\"", "null", "7", "\"C\\u0000\""].randomElement(using: &random)!
    }

    /// A vector: usually a few entries of boundary numbers, sometimes a huge map or an invalid id.
    static func vector(_ random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<12, using: &random) {
        case 0: return "{" + (0..<20_000).map { "\"W\($0)\":1" }.joined(separator: ",") + "}"
        case 1: return numbers.randomElement(using: &random)!
        case 2: return "{\"not a warehouse!\":1}"
        default:
            let names = ["MAD", "C", "A", "B", "SEV", String(repeating: "Z", count: 32)]
            let entries = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                "\"\(names.randomElement(using: &random)!)\":\(numbers.randomElement(using: &random)!)"
            }
            return "{" + entries.joined(separator: ",") + "}"
        }
    }

    /// Member records a hostile member would send: other warehouses' addresses, retirements, bad URLs and stamps.
    static func memberList(_ random: inout SplitMix64) -> String {
        if Int.random(in: 0..<8, using: &random) == 0 { return numbers.randomElement(using: &random)! }
        let records = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            let warehouse = ["MAD", "C", "SEV", "", "bad id!"].randomElement(using: &random)!
            let url = ["https://evil.example:1", "not a url at all", "http://127.0.0.1:9", "https://127.0.0.1:0", ""].randomElement(using: &random)!
            let retired = Bool.random(using: &random)
            let timestamp = numbers.randomElement(using: &random)!
            return "{\"warehouse\":\"\(warehouse)\",\"peer_url\":\"\(url)\",\"retired\":\(retired),\"timestamp\":\(timestamp),\"replica\":\"C\"}"
        }
        return "[" + records.joined(separator: ",") + "]"
    }
}
