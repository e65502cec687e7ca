import Foundation
import SyncServer
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

        @Test("one line per event through a pipe: local time, warehouse, type, SKU, change, on hand, user, reference; no colour")
        func humanLinesThroughAPipe() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget", "--reorder-point", "5"))
            // Above the reorder point before watching: the receives that follow raise no alert.
            expectSuccess(try node.inv("receive", "SKU-1", "10"))
            let watcher = try ChildProcess(
                inv: ["watch", "--data", node.data], outputIn: node.root.path, environment: ReadableOutputTests.environment)
            defer { watcher.stop(signal: SIGKILL) }
            let seen = try Self.receiveUntilWatched(node: node, watcher: watcher)
            let held = try #require(try JSON.parse(try node.inv("stock", "SKU-1", "--json").stdout).array?.first?["quantity"]?.int)
            // One command at a time, each line printed before the next: `on hand` is read when the event is sent.
            expectSuccess(try node.inv("receive", "SKU-1", "1200", "--reference", "PO-1"))
            _ = try Self.waitForLines(seen + 1, from: watcher, timeout: .seconds(10))
            expectSuccess(try node.inv("sell", "SKU-1", "3", "--reference", "SO-77"))
            _ = try Self.waitForLines(seen + 2, from: watcher, timeout: .seconds(10))
            expectSuccess(try node.inv("adjust", "SKU-1", "-\(held + 1_197 - 2)", "--reason", "stocktake"))
            let lines = try Self.waitForLines(seen + 4, from: watcher, timeout: .seconds(10))
            let movements = try node.inv("history", "--json", "--limit", "3")
            let times = (try JSON.parse(movements.stdout).array ?? []).map { ReadableOutputTests.local($0["timestamp"]?.string, timeOnly: true) }
            try #require(times.count == 3 && lines.count == seen + 4, "\(lines)")
            let total = held + 1_200
            #expect(Array(lines.suffix(4)) == [
                "\(times[0])  MAD  receive   SKU-1     +1,200  (on hand \(ReadableOutputTests.grouped(total)))  admin  ref PO-1",
                "\(times[1])  MAD  sell      SKU-1      -3  (on hand \(ReadableOutputTests.grouped(total - 3)))  admin  ref SO-77",
                "\(times[2])  MAD  adjust    SKU-1     -\(ReadableOutputTests.grouped(total - 5))  (on hand 2)  admin  reason: stocktake",
                "\(times[2])  MAD  ALERT     SKU-1       on hand 2, reorder point 5",
            ])
            #expect(!watcher.stdout.contains("\u{1B}"), "no colour through a pipe")
        }

        @Test("--json: one object per line, keys sorted")
        func jsonSortedKeys() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            let watcher = try ChildProcess(inv: ["watch", "--json", "--data", node.data], outputIn: node.root.path)
            defer { watcher.stop(signal: SIGKILL) }
            let seen = try Self.receiveUntilWatched(node: node, watcher: watcher)
            let id = "0f6f5a4e-7a1c-4a52-9c1e-3d2b1a0f9e8d"
            expectSuccess(try node.inv("receive", "SKU-1", "7", "--id", id, "--reference", "PO-ü"))
            let line = try #require(try Self.waitForLines(seen + 1, from: watcher, timeout: .seconds(10)).last)
            #expect(line.hasPrefix("{\"data\":{\"counterpart\":null,\"delta\":7,\"document\":null,\"id\":\"\(id)\",\"on_hand\":"), "\(line)")
            #expect(line.contains("\"reference\":\"PO-ü\"") && line.hasSuffix("},\"event\":\"movement\"}"), "\(line)")
        }

        @Test("through a terminal: alerts in colour, none with NO_COLOR")
        func terminalColour() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget", "--reorder-point", "0"))
            for noColour in [false, true] {
                // `script` runs the command on a pseudo-terminal and copies what it prints to its own stdout.
                let command = "\(try InvBinary.path()) watch --data \(node.data)"
                var environment = ReadableOutputTests.environment
                environment["TERM"] = "xterm"
                // Empty means unset (no-color.org), whatever the environment the tests run in says.
                environment["NO_COLOR"] = noColour ? "1" : ""
                let watcher = try ChildProcess(
                    executable: "/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"], outputIn: node.root.path,
                    environment: environment)
                defer { watcher.stop(signal: SIGKILL) }
                _ = try Self.receiveUntilWatched(node: node, watcher: watcher)
                let onHand = try #require(try JSON.parse(try node.inv("stock", "SKU-1", "--json").stdout).array?.first?["quantity"]?.int)
                expectSuccess(try node.inv("sell", "SKU-1", "\(onHand)"))
                waitUntil(.seconds(10)) { watcher.stdout.contains("ALERT") }
                let printed = watcher.stdout.replacingOccurrences(of: "\r\n", with: "\n")
                let alert = try #require(printed.split(separator: "\n").last { $0.contains("ALERT") }, "\(watcher.result())")
                #expect(alert.hasPrefix("\u{1B}[1;31m") == !noColour, "\(alert.debugDescription)")
                #expect(alert.contains("MAD  ALERT     SKU-1       on hand 0, reorder point 0"), "\(alert.debugDescription)")
                expectSuccess(try node.inv("receive", "SKU-1", "1"))
            }
        }

        @Test("when the node goes away: --once exits 1 saying so; otherwise it reconnects and carries on")
        func nodeGoesAway() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            let once = try ChildProcess(inv: ["watch", "--once", "--data", node.data], outputIn: node.root.path)
            defer { once.stop(signal: SIGKILL) }
            let staying = try ChildProcess(inv: ["watch", "--data", node.data], outputIn: node.root.path)
            defer { staying.stop(signal: SIGKILL) }
            _ = try Self.receiveUntilWatched(node: node, watcher: once)
            _ = try Self.receiveUntilWatched(node: node, watcher: staying)
            node.stop()
            #expect(once.wait(upTo: .seconds(30)) == 1, "\(once.result())")
            let said = InvResult.lines(once.stderr)
            #expect(said.count == 1 && said.first?.hasPrefix("inv watch: the node at \(node.url) went away") == true, "\(once.result())")

            waitUntil(.seconds(30)) { staying.stderr.contains("went away") }
            #expect(staying.process.isRunning, "\(staying.result())")
            try node.start()
            // Events from before it is back are not replayed: wait until it says it is back.
            waitUntil(.seconds(60)) { staying.stderr.contains("reconnected") }
            let printed = InvResult.lines(staying.stdout).count
            expectSuccess(try node.inv("receive", "SKU-1", "2"))
            _ = try Self.waitForLines(printed + 1, from: staying, timeout: .seconds(60))
            #expect(InvResult.lines(staying.stdout).count == printed + 1, "\(staying.result())")
            #expect(staying.stderr.contains("inv watch: reconnected to \(node.url)"), "\(staying.result())")
        }

        /// Receives 1 unit at a time until `watcher` prints an event (it may not be subscribed yet when it starts).
        ///
        /// Each receive carries its own reference. Once a line is printed, the watcher subscribed before the receive
        /// it shows, so before the last receive too: once the last one's line is printed, no event of these receives
        /// is still on its way, and the count is exact.
        ///
        /// - Returns: how many lines the watcher has printed so far.
        static func receiveUntilWatched(node: NodeFixture, watcher: ChildProcess) throws -> Int {
            for attempt in 0..<30 {
                let reference = "PROBE\(attempt)END"
                expectSuccess(try node.inv("receive", "SKU-1", "1", "--reference", reference))
                let lines = try waitForLines(1, from: watcher, timeout: .milliseconds(500))
                if !lines.isEmpty {
                    // Complete lines only: the last one may still be being written.
                    var printed: [String] = []
                    let last = try waitUntil(.seconds(10)) {
                        printed = try waitForLines(0, from: watcher, timeout: .zero)
                        return printed.contains { $0.contains(reference) }
                    }
                    guard last else { throw HarnessError("inv watch never printed receive \(reference):\n\(watcher.result())") }
                    return printed.count
                }
            }
            throw HarnessError("inv watch printed nothing after 30 receives:\n\(watcher.result())")
        }

        /// Polls the watcher's stdout until it has `count` complete lines or `timeout` passes.
        static func waitForLines(_ count: Int, from watcher: ChildProcess, timeout: Duration) throws -> [String] {
            let deadline = ContinuousClock.now + timeout
            while true {
                // A pseudo-terminal ends lines with \r\n, one Character in Swift: split on \n alone.
                let output = watcher.stdout.replacingOccurrences(of: "\r\n", with: "\n")
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
