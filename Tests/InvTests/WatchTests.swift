import Foundation
import Testing

extension InvCLITests {
    @Suite("inv watch")
    struct WatchTests {
        @Test("prints a movement event line after a receive")
        func printsMovementEvents() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            let watcher = try ChildProcess(inv: ["watch", "--json", "--data", node.data], outputIn: node.root.path)
            defer { watcher.stop(signal: SIGKILL) }

            // Subscribed once an event arrives; then one more receive must print exactly one more line.
            let seen = try Self.receiveUntilWatched(node: node, watcher: watcher)
            let id = "0f6f5a4e-7a1c-4a52-9c1e-3d2b1a0f9e8d"
            expectSuccess(try node.inv("receive", "SKU-1", "7", "--id", id))
            let lines = try Self.waitForLines(seen + 1, from: watcher, timeout: .seconds(10))
            #expect(lines.count == seen + 1, "\(lines)")
            let event = try JSON.parse(try #require(lines.last))
            #expect(event.keys == ["event", "data"])
            #expect(event["event"] == "movement")
            let data = try #require(event["data"])
            #expect(data.only(["id", "type", "sku", "warehouse", "quantity", "delta", "origin", "user", "reason"]) == [
                "id": .string(id), "type": "receive", "sku": "SKU-1", "warehouse": "MAD", "quantity": 7, "delta": 7,
                "origin": "MAD", "user": "admin", "reason": nil,
            ])

            watcher.stop(signal: SIGTERM, grace: .seconds(5))
            #expect(!watcher.process.isRunning)
        }

        /// Receives 1 unit at a time until `watcher` prints an event (it may not be subscribed yet when it starts).
        ///
        /// - Returns: how many lines the watcher has printed so far.
        static func receiveUntilWatched(node: NodeFixture, watcher: ChildProcess) throws -> Int {
            for _ in 0..<30 {
                expectSuccess(try node.inv("receive", "SKU-1", "1"))
                let lines = try waitForLines(1, from: watcher, timeout: .milliseconds(500))
                if !lines.isEmpty {
                    // Let any other in-flight event arrive before counting.
                    usleep(200_000)
                    return InvResult.lines(watcher.stdout).count
                }
            }
            throw HarnessError("inv watch printed nothing after 30 receives:\n\(watcher.result())")
        }

        /// Polls the watcher's stdout until it has `count` complete lines or `timeout` passes.
        static func waitForLines(_ count: Int, from watcher: ChildProcess, timeout: Duration) throws -> [String] {
            let deadline = ContinuousClock.now + timeout
            while true {
                let output = watcher.stdout
                // Only complete lines: the last one may still be being written.
                var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                lines.removeLast()
                if lines.count >= count || ContinuousClock.now >= deadline { return lines }
                if !watcher.process.isRunning { throw HarnessError("inv watch exited:\n\(watcher.result())") }
                usleep(20_000)
            }
        }
    }
}
