import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
@testable import inv

extension InvCLITests {
    @Suite("Reaching the node: not running, wrong CA")
    struct ConnectionTests {
        @Test("a client command against a stopped node says how to start it, at once")
        func nodeNotRunning() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            #expect(node.stop() == 0)

            for arguments in [["stock"], ["receive", "SKU-1", "1"], ["status", "--json"]] {
                let result = try node.run(arguments + ["--data", node.data])
                let line = expectOneLineError(result)
                #expect(line == "inv: error: node not running at https://127.0.0.1:\(node.port); start it with `inv serve --data \(node.data)`")
            }
            // A refused connection is the answer; it is not retried until the 5 s connect timeout (checked on the
            // client's configuration, not with a clock).
            #expect(try NodeClient.configuration(trusting: node.caFile).connectionPool.retryConnectionEstablishment == false)
            #expect(try NodeClient.configuration(trusting: node.caFile).timeout.connect == .seconds(5))
        }

        @Test("with --node, the hint names no local data directory: the node is started where it lives")
        func remoteNodeNotRunning() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            let token = try node.adminToken
            let result = try node.run(["stock", "--node", node.url, "--ca", node.caFile, "--token", token, "--data", node.data])
            let line = expectOneLineError(result)
            #expect(line == "inv: error: node not running at https://127.0.0.1:\(node.port); start it there with `inv serve`")
        }

        @Test("--ca of another cluster fails certificate verification with one line")
        func otherClusterCA() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            let stranger = try NodeFixture(warehouse: "EVIL")
            defer { stranger.cleanup() }
            try node.start()
            let token = try node.adminToken

            // The right CA works...
            let trusted = try node.run(["stock", "--json", "--node", node.url, "--ca", node.caFile, "--token", token])
            expectSuccess(trusted)
            #expect(try JSON.parse(trusted.stdout) == [])

            // ...another cluster's CA is refused during the handshake.
            let refused = try node.run(["stock", "--node", node.url, "--ca", stranger.caFile, "--token", token])
            let line = expectOneLineError(refused)
            #expect(line == "inv: error: TLS handshake with \(node.url) failed: "
                + "the node's certificate is not signed by the cluster CA in \(stranger.caFile), or has expired", "\(refused)")

            // A CA file that is not a certificate is one line too.
            let garbage = node.root.file("garbage.pem")
            try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: garbage))
            let unreadable = try node.run(["stock", "--node", node.url, "--ca", garbage, "--token", token])
            #expect(expectOneLineError(unreadable).hasPrefix("inv: error: cannot read the cluster CA certificate \(garbage): "))
        }

        @Test("a failed TLS handshake is exactly one plain line on stderr: no BoringSSL error stack")
        func tlsFailureIsOneLine() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            let stranger = try NodeFixture(warehouse: "EVIL")
            defer { stranger.cleanup() }
            try node.start()
            let token = try node.adminToken

            /// Checks that `result` failed with exactly `line` on stderr and nothing else, then returns it.
            func expectOnly(_ line: String, _ result: InvResult, sourceLocation: SourceLocation = #_sourceLocation) {
                expectOneLineError(result, sourceLocation: sourceLocation)
                #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
                #expect(result.stderr == line + "\n", "\(result)", sourceLocation: sourceLocation)
                for dump in ["BoringSSL", "OPENSSL", "NIOSSL", "Error: ", ".cc:"] {
                    #expect(!result.stderr.contains(dump), "\(result)", sourceLocation: sourceLocation)
                }
            }

            // The data directory's CA is not the one that signed the running node's certificate (as after a CA was
            // replaced on one side only): the node's certificate does not verify, and the line names the CA file used.
            let dataCA = node.data + "/tls/ca.pem"
            let clusterCA = node.root.file("mad-ca.pem")
            try FileManager.default.copyItem(atPath: dataCA, toPath: clusterCA)
            try FileManager.default.removeItem(atPath: dataCA)
            try FileManager.default.copyItem(atPath: stranger.caFile, toPath: dataCA)
            for arguments in [["stock"], ["status", "--json"], ["watch"]] {
                expectOnly(
                    "inv: error: TLS handshake with \(node.url) failed: the node's certificate is not signed by the cluster CA in \(dataCA), or has expired",
                    try node.run(arguments + ["--data", node.data]))
            }

            // The peer-sync port (API port + 1) wants a client certificate: say so, and where the API is.
            let peerURL = "https://127.0.0.1:\(node.port + 1)"
            expectOnly(
                "inv: error: TLS handshake with \(peerURL) failed: it asks for a client certificate, as a peer-sync port does: use the node's API URL",
                try node.run(["stock", "--node", peerURL, "--ca", clusterCA, "--token", token]))
        }
    }

    @Suite("Transfers")
    struct TransferTests {
        @Test("transfer prints the id; transfers --json lists it in transit")
        func transferIsListed() throws {
            // A transfer must go to a member: BCN joins MAD's cluster first.
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let node = try cluster.found("MAD")
            let bcn = try cluster.join("BCN", via: node)
            try node.start()
            try bcn.start()
            try cluster.converge([node, bcn])
            bcn.stop()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            expectSuccess(try node.inv("receive", "SKU-1", "10"))

            let shipped = try node.inv("transfer", "SKU-1", "3", "--to", "BCN")
            #expect(shipped.status == 0, "\(shipped)")
            #expect(shipped.lines.count == 1, "only the id on stdout: \(shipped)")
            let id = try #require(shipped.lines.first)
            #expect(id.wholeMatch(of: WorkflowTests.uuid) != nil, "\(shipped)")
            #expect(shipped.stderrLines == ["shipped 3 x SKU-1 to BCN; accept it there with `inv accept \(id)`"])

            let transfers = try node.inv("transfers", "--json")
            expectSuccess(transfers)
            let rows = try #require(try JSON.parse(transfers.stdout).array, "\(transfers)")
            let keys: Set = ["id", "sku", "from", "to", "quantity"]
            #expect(rows.allSatisfy { $0.keys.isSuperset(of: keys) }, "\(rows)")
            #expect(rows.map { $0.only(keys) } == [["id": .string(id), "sku": "SKU-1", "from": "MAD", "to": "BCN", "quantity": 3]])

            let stock = try JSON.parse(try node.inv("stock", "--json").stdout)
            #expect(stock.array?.map { $0.only(["sku", "warehouse", "quantity"]) } == [["sku": "SKU-1", "warehouse": "MAD", "quantity": 7]])

            let history = try #require(try JSON.parse(try node.inv("history", "--json", "--type", "transfer").stdout).array)
            #expect(history.map { $0.only(["type", "sku", "warehouse", "quantity", "counterpart"]) } == [
                ["type": "transfer", "sku": "SKU-1", "warehouse": "MAD", "quantity": 3, "counterpart": "BCN"],
            ])
        }

        @Test("transfer to a warehouse that is not a member is refused with one line, and nothing changes")
        func transferToUnknownWarehouseIsRefused() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            expectSuccess(try node.inv("receive", "CHAIR-01", "10"))
            let refused = try node.inv("transfer", "CHAIR-01", "1", "--to", "NOWHERE")
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.stdout.isEmpty, "\(refused)")
            #expect(refused.stderrLines == ["inv: error: unknown warehouse NOWHERE: not a member of this cluster"], "\(refused)")
            let transfers = try node.inv("transfers", "--json")
            expectSuccess(transfers)
            #expect(try JSON.parse(transfers.stdout).array?.isEmpty == true, "\(transfers)")
            let stock = try JSON.parse(try node.inv("stock", "--json").stdout)
            #expect(stock.array?.map { $0.only(["sku", "quantity"]) } == [["sku": "CHAIR-01", "quantity": 10]])
        }
    }
}
