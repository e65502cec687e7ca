import Foundation
import Testing

extension InvCLITests {
    /// The peer listener's push limit, as a member sees it: a real `curl` with the node's own member certificate.
    @Suite("Peer push size limit", .serialized)
    struct PeerPushLimitTests {
        @Test("a pushed page over 32 MiB is refused with 413, and the message states 32 MiB")
        func pushOverTheLimitStatesTheRealLimit() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let page = node.root.file("page.bin")
            try Data(count: (32 << 20) + 1).write(to: URL(fileURLWithPath: page))
            let answer = node.root.file("answer.json")
            let tls = node.data + "/tls/"
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = [
                "curl", "-sS", "--max-time", "120", "--cacert", tls + "ca.pem", "--cert", tls + "node.pem", "--key", tls + "node-key.pem",
                "-H", "x-inv-from: MAD", "-H", "content-type: application/x-inv-ops+deflate", "-H", "Expect:",
                "--data-binary", "@" + page, "-o", answer, "-w", "%{http_code}", "https://127.0.0.1:\(node.port + 1)/v1/sync/push",
            ]
            let status = Pipe()
            curl.standardOutput = status
            curl.standardError = FileHandle.nullDevice
            try curl.run()
            let code = String(decoding: status.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            curl.waitUntilExit()
            #expect(code == "413", "curl exited \(curl.terminationStatus) with HTTP status \(code)")
            let body = try JSON.parse(String(contentsOfFile: answer, encoding: .utf8))
            #expect(body["error"]?["code"] == "body_too_large")
            #expect(body["error"]?["message"] == "a pushed page is larger than 32 MiB")
            #expect(try node.inv("status").status == 0, "the node still answers")
        }
    }
}
