import CRDT
import Foundation
import Store
import SyncServer
import Testing

extension InvCLITests {
    /// Findings 1 to 4 of the security review, against real `inv serve` processes: a test program holding a real
    /// member certificate of the cluster sends the numbers that crashed a node and the hello that rewrote the
    /// membership; a genuine member serves on another member's address.
    @Suite("A hostile member cannot crash a node, pass for another member, or rewrite membership")
    struct HostilePeerTests {
        @Test("a pull or a stream naming sequence 2^63 and a hello naming 2^64-1 are refused (400); the node keeps serving, unchanged")
        func outOfRangeVectorsAreRefused() async throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let a = try cluster.found("A")
            try a.start()
            expectSuccess(try a.inv("product", "add", "P", "--name", "Pear"))
            _ = try a.json("receive", "P", "5")
            let c = try HostilePeer("C", issuedBy: a, in: cluster.root)
            let before = try a.snapshot()
            let membersBefore = try a.members()

            let pull = try await c.post(a.peerURL + "/v1/sync/pull", json: #"{"v":1,"from":"C","vector":{"A":9223372036854775808},"limit":1}"#)
            #expect(pull.status == 400, "\(pull)")
            #expect(pull.body.contains("invalid_vector") && pull.body.contains("9223372036854775808"), "\(pull)")
            let hello = try await c.post(
                a.peerURL + "/v1/sync/hello", json: #"{"v":1,"from":"C","vector":{"A":18446744073709551615,"B":18446744073709551615},"members":[]}"#)
            #expect(hello.status == 400, "\(hello)")
            // A live stream's vector is checked as a pull's; its `from` must be the certificate's warehouse.
            let stream = try await c.post(a.peerURL + "/v1/sync/stream", json: #"{"v":1,"from":"C","vector":{"A":9223372036854775808}}"#)
            #expect(stream.status == 400 && stream.body.contains("invalid_vector"), "\(stream)")
            let badID = try await c.post(a.peerURL + "/v1/sync/stream", json: #"{"v":1,"from":"C","vector":{"not a warehouse!":1}}"#)
            #expect(badID.status == 400, "\(badID)")
            let posing = try await c.post(a.peerURL + "/v1/sync/stream", json: #"{"v":1,"from":"A","vector":{}}"#)
            #expect(posing.status == 403 && posing.body.contains("peer_mismatch"), "\(posing)")
            let malformed = try await c.post(a.peerURL + "/v1/sync/stream", json: #"{"v":1,"from":"C"}"#)
            #expect(malformed.status == 400, "\(malformed)")

            #expect(a.isRunning, "the node died:\n\(a.serverLogs)")
            expectSuccess(try a.inv("status"))
            #expect(try a.snapshot() == before)
            #expect(try a.members() == membersBefore)
            // And it still serves the same member a valid pull.
            let valid = try await c.post(a.peerURL + "/v1/sync/pull", json: #"{"v":1,"from":"C","vector":{},"limit":10}"#)
            #expect(valid.status == 200, "\(valid)")
            await c.shutdown()
        }

        @Test("a hello whose vector adds up past 2^64: status, peers, metrics, inv status and inv sync still answer")
        func vectorSummingPast64Bits() async throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let a = try cluster.found("A")
            try a.start()
            expectSuccess(try a.inv("product", "add", "P", "--name", "Pear"))
            let c = try HostilePeer("C", issuedBy: a, in: cluster.root)
            let nowhere = "https://127.0.0.1:\(try freeLocalPort())"
            let entry = "9223372036854775806"
            let hello = try await c.post(a.peerURL + "/v1/sync/hello", json: """
                {"v":1,"from":"C","vector":{"A":\(entry),"B":\(entry),"D":\(entry)},
                 "members":[{"warehouse":"C","peer_url":"\(nowhere)","retired":false,"timestamp":1,"replica":"C"}]}
                """)
            #expect(hello.status == 200, "\(hello)")
            // Wait (bounded) until A's sync loops follow C, the member that announced itself.
            let deadline = ContinuousClock.now + .seconds(20)
            var listed = false
            while ContinuousClock.now < deadline {
                let peers = try await c.get(a.url + "/v1/peers", token: try a.adminToken)
                if peers.status == 200 && peers.body.contains("\"operations_ahead\"") {
                    listed = true
                    break
                }
                usleep(100_000)
            }
            #expect(listed, "A never showed C's lag:\n\(a.serverLogs)")
            for path in ["/v1/status", "/v1/peers", "/metrics"] {
                let answer = try await c.get(a.url + path, token: try a.adminToken)
                #expect(answer.status == 200, "\(path): \(answer)")
            }
            let peers = try await c.get(a.url + "/v1/peers", token: try a.adminToken)
            #expect(peers.body.contains("18446744073709551615"), "the lag saturates at 2^64-1: \(peers)")
            expectSuccess(try a.inv("status"))
            _ = try a.inv("sync")
            expectSuccess(try a.inv("status"))
            #expect(a.isRunning, "the node died:\n\(a.serverLogs)")
            await c.shutdown()
        }
    
        @Test("a hello from C cannot retire A on A, move A's or D's address, or add NEWGUY; C may announce its own address")
        func helloNeverRewritesMembership() async throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let a = try cluster.found("A")
            let d = try cluster.join("D", via: a)
            for node in [a, d] { try node.start() }
            try cluster.converge([a, d])
            // A learns D's address from D itself (its hello); wait, bounded, for it.
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, try a.members()["D"] == nil {
                _ = try a.inv("sync")
                usleep(100_000)
            }
            /// Each member's record, without its sync status (which moves with every round).
            func records(_ node: ClusterNode) throws -> [String: JSON] {
                try node.members().mapValues { row in row.object.map { object in JSON.object(object.filter { $0.key != "status" }) } ?? row }
            }
            let before = [try records(a), try records(d)]
            #expect(before[0]["D"]?["peer_url"]?.string == d.peerURL, "\(before[0])")
            let c = try HostilePeer("C", issuedBy: a, in: cluster.root)
            let own = "https://127.0.0.1:\(try freeLocalPort())"
            let attack = """
                {"v":1,"from":"C","vector":{},"members":[
                 {"warehouse":"A","peer_url":"\(a.peerURL)","retired":true,"timestamp":9000000000000000000,"replica":"C"},
                 {"warehouse":"A","peer_url":"https://evil.example:1","retired":false,"timestamp":9000000000000000000,"replica":"C"},
                 {"warehouse":"D","peer_url":"https://evil.example:1","retired":false,"timestamp":9000000000000000000,"replica":"C"},
                 {"warehouse":"D","peer_url":"\(d.peerURL)","retired":true,"timestamp":9000000000000000000,"replica":"D"},
                 {"warehouse":"NEWGUY","peer_url":"not a url at all","retired":false,"timestamp":1,"replica":"C"},
                 {"warehouse":"C","peer_url":"\(own)","retired":false,"timestamp":1,"replica":"C"}]}
                """
            for node in [a, d] {
                let answer = try await c.post(node.peerURL + "/v1/sync/hello", json: attack)
                #expect(answer.status == 200, "\(answer)")
            }
            for (node, held) in zip([a, d], before) {
                var after = try records(node)
                #expect(after["C"]?["peer_url"]?.string == own, "C announces its own address: \(after)")
                after["C"] = nil
                #expect(after == held, "\(node.warehouse)'s membership changed: \(after)")
            }
            // A still syncs with D, and neither considers itself retired.
            expectSuccess(try a.inv("product", "add", "P", "--name", "Pear"))
            try cluster.converge([a, d])
            #expect(try a.members()["A"]?["retired"] == false && (try d.members()["D"]?["retired"]) == false)

            // `inv peer add` takes only https://HOST:PORT.
            for url in ["not a url at all", "https://127.0.0.1", "https://127.0.0.1:1/path", "http://127.0.0.1:1"] {
                let refused = expectOneLineError(try a.inv("peer", "add", url))
                #expect(refused.contains("https://HOST:PORT"), "\(url): \(refused)")
            }
            await c.shutdown()
        }

        @Test("C's key retires only C: its retirement of D, its re-admission, a tampered one are ignored; its own is taken")
        func memberKeyRetiresOnlyItself() async throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let a = try cluster.found("A")
            let d = try cluster.join("D", via: a)
            for node in [a, d] { try node.start() }
            try cluster.converge([a, d])
            let c = try HostilePeer("C", issuedBy: a, in: cluster.root)
            let key = c.credentials.node.privateKey
            let now = HLCTimestamp(physicalMilliseconds: UInt64(Date().timeIntervalSince1970 * 1_000), logical: 0)
            func signed(_ warehouse: String, retired: Bool, issuer: String) throws -> MembershipDecision {
                var decision = MembershipDecision(
                    warehouse: warehouse, retired: retired, timestamp: now, actor: "mallory", issuer: issuer, signer: .warehouse,
                    signature: [])
                try decision.sign(with: key)
                return decision
            }
            var tampered = try MembershipDecision.selfRetirement(of: "C", timestamp: now, actor: "mallory", nodeKey: key)
            tampered.actor = "admin"
            let own = "https://127.0.0.1:\(try freeLocalPort())"
            func hello(_ decisions: [MembershipDecision]) throws -> String {
                let encoded = String(decoding: try JSONEncoder().encode(decisions), as: UTF8.self)
                return """
                    {"v":1,"from":"C","vector":{},"certificates":["\(c.certificateBase64)"],"decisions":\(encoded),"members":[
                     {"warehouse":"C","peer_url":"\(own)","retired":false,"timestamp":1,"replica":"C"}]}
                    """
            }
            let forged = try hello([
                signed("D", retired: true, issuer: "C"), signed("D", retired: true, issuer: "D"),
                signed("C", retired: false, issuer: "C"), tampered,
            ])
            #expect(try await c.post(a.peerURL + "/v1/sync/hello", json: forged).status == 200)
            #expect(try a.json("peer", "list").array?.allSatisfy { $0["retired"] == false } == true)
            #expect(try a.json("history", "--membership")["membership_decisions"] == [])

            // Its own retirement, signed with its certified key, is taken, and travels on to D.
            let retirement = try MembershipDecision.selfRetirement(of: "C", timestamp: now, actor: "mallory", nodeKey: key)
            #expect(try await c.post(a.peerURL + "/v1/sync/hello", json: try hello([retirement])).status == 200)
            #expect(try a.members()["C"]?["retired"] == true)
            #expect(try a.members()["C"]?["decision"]?["signer"] == "warehouse")
            try MembershipOutputTests.syncUntil(a) { try d.json("history", "--membership")["membership_decisions"]?.array?.count == 1 }
            #expect(try d.members()["D"]?["retired"] == false)
            await c.shutdown()
        }

        @Test("identity both ways: a server with C's certificate on D's URL is refused, logged once and shown in status")
        func certificateMustNameTheWarehouseDialled() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let a = try cluster.found("A")
            let d = try cluster.join("D", via: a)
            for node in [a, d] { try node.start() }
            try cluster.converge([a, d])
            #expect(try a.members()["D"]?["peer_url"]?.string == d.peerURL)
            d.stop()

            // C, a genuine member, serves on D's ports with its own certificate.
            let bundle = cluster.root.file("C.join")
            expectSuccess(try a.inv("cert", "issue", "C", "--out", bundle, "--host", "127.0.0.1"))
            let c = ClusterNode(warehouse: "C", port: d.port, data: cluster.root.file("data-C"), root: cluster.root.path)
            defer { c.crash() }
            expectSuccess(try c.run(["init", "--data", c.data, "--warehouse", "C", "--listen", "127.0.0.1:\(d.port)", "--join", bundle]))
            try c.setConfig("anti_entropy_seconds", 1)
            try c.start()

            let sync = try a.inv("sync", "--json")
            let reports = try #require(try JSON.parse(sync.stdout).array, "\(sync)")
            let toD = try #require(reports.first { $0["peer"] == "D" }, "\(reports)")
            let expected = "the certificate at \(d.peerURL) names warehouse C, not D: nothing is exchanged with it"
            #expect(toD["ok"] == false)
            #expect(toD["error"]?.string == expected, "\(toD)")
            #expect(toD["pulled"] == 0 && toD["pushed"] == 0)
            _ = try a.inv("sync")
            let status = try a.members()["D"]?["status"]
            #expect(status?["last_error"]?.string == expected, "\(String(describing: status))")
            let logged = a.serverLogs.components(separatedBy: expected).count - 1
            #expect(logged == 1, "logged \(logged) times:\n\(a.serverLogs)")
        }
    }
}
