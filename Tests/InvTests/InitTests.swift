import Foundation
import Testing

extension InvCLITests {
    @Suite("inv init")
    struct InitTests {
        @Test("creates a private data directory and prints the admin token once")
        func createsDataDirectory() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            let token = try node.adminToken
            #expect(token.hasPrefix("inv_"))
            #expect(node.initResult.stderr.isEmpty, "\(node.initResult)")
            #expect(node.initResult.lines == [
                "Created warehouse node MAD in \(node.data)",
                "  URL:          https://127.0.0.1:\(node.port)",
                "  cluster CA:   \(node.data)/tls/ca.pem",
                "  admin token:  \(token)",
                "The admin token is shown once; it is also kept (mode 0600) in \(node.data)/admin.token.",
                "Start the node with: inv serve --data \(node.data)",
            ])
            #expect(node.initResult.stdout.components(separatedBy: token).count == 2, "the token is printed exactly once")

            #expect(try permissions(node.data) == 0o700)
            #expect(try permissions(node.data + "/tls") == 0o700)
            for secret in ["admin.token", "config.json", "tls/ca-key.pem", "tls/node-key.pem"] {
                #expect(try permissions(node.data + "/" + secret) == 0o600, "\(secret)")
            }
            // Nothing in the directory is writable by anyone else.
            let files = try FileManager.default.subpathsOfDirectory(atPath: node.data)
            for file in files {
                #expect(try permissions(node.data + "/" + file) & 0o022 == 0, "\(file)")
            }
        }

        @Test("a second init on the same directory fails and keeps the first node")
        func secondInitFails() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            let token = try node.adminToken
            let again = try node.run(["init", "--data", node.data, "--warehouse", "BCN", "--listen", "127.0.0.1:\(node.port)"])
            let line = expectOneLineError(again)
            #expect(line == "inv: error: \(node.data) already holds a node; choose another --data directory")
            #expect(try node.adminToken == token)
        }

        @Test("an invalid warehouse id fails and creates nothing", arguments: ["bad id!", "", String(repeating: "W", count: 33), "MAD/1"])
        func invalidWarehouse(id: String) throws {
            let root = try TemporaryDirectory()
            defer { root.cleanup() }
            let data = root.file("data")
            let result = try runInv(["init", "--data", data, "--warehouse", id, "--listen", "127.0.0.1:\(try freeLocalPort())"], in: root.path)
            let line = expectOneLineError(result)
            #expect(line == "inv: error: warehouse id must be 1-32 characters of A-Z a-z 0-9 _ -, got \(id.debugDescription)")
            #expect(!FileManager.default.fileExists(atPath: data))
        }
    }
}
