import Foundation
import Testing

extension InvCLITests {
    @Suite("inv serve")
    struct ServeTests {
        @Test("serves until SIGTERM, then exits 0 within a few seconds")
        func sigtermStopsCleanly() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let status = try node.inv("status")
            expectSuccess(status)
            #expect(status.lines.first == "warehouse:  MAD (MAD)")
            #expect(status.lines.dropFirst().first == "url:        \(node.url)")

            let server = try #require(node.server)
            let started = ContinuousClock.now
            let exit = node.stop(grace: .seconds(5))
            #expect(exit == 0, "inv serve did not exit 0 within 5 s of SIGTERM (\(ContinuousClock.now - started)):\n\(server.stderr)")
            #expect(!server.stderr.contains("Fatal error"), "\(server.stderr)")
        }

        @Test("a second server on a busy port fails with one line and leaves the first serving")
        func busyPort() throws {
            let first = try NodeFixture(warehouse: "MAD")
            defer { first.cleanup() }
            let second = try NodeFixture(warehouse: "BCN", port: first.port)
            defer { second.cleanup() }
            try first.start()

            let result = try second.run(["serve", "--data", second.data], timeout: .seconds(30))
            let line = expectOneLineError(result)
            #expect(line.hasPrefix("inv: error: cannot listen on 127.0.0.1:\(first.port)"), "\(result)")
            #expect(line.hasSuffix(": the address is already in use"), "\(result)")
            expectSuccess(try first.inv("status"))
        }

        @Test("a busy peer port (API port + 1) fails with the same one line, before anything announces itself")
        func busyPeerPort() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            let holder = try ListeningSocket(port: node.port + 1)
            defer { holder.release() }

            let result = try node.run(["serve", "--data", node.data], timeout: .seconds(30))
            let line = expectOneLineError(result)
            #expect(line == "inv: error: cannot listen on 127.0.0.1:\(node.port) (or its peer port): the address is already in use", "\(result)")
        }

        @Test("serve on a missing data directory fails with one line")
        func missingDataDirectory() throws {
            let root = try TemporaryDirectory()
            defer { root.cleanup() }
            let data = root.file("nowhere")
            let result = try runInv(["serve", "--data", data], in: root.path)
            let line = expectOneLineError(result)
            #expect(line == "inv: error: no node data directory at \(data); create one with `inv init --data \(data) --warehouse ID`")
        }

        @Test("SIGTERM stops the server even while an `inv watch` is connected")
        func sigtermWithWatcher() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            let watcher = try ChildProcess(inv: ["watch", "--json", "--data", node.data], outputIn: node.root.path)
            defer { watcher.stop(signal: SIGKILL) }
            _ = try WatchTests.receiveUntilWatched(node: node, watcher: watcher)

            let server = try #require(node.server)
            // Open event streams end when graceful shutdown begins (EventStreamCloser), so the server does not wait for them.
            let exit = node.stop(grace: .seconds(5))
            #expect(exit == 0, "inv serve still running 5 s after SIGTERM with a watcher connected:\n\(server.stderr)")
        }
    }
}

/// A TCP socket listening on 127.0.0.1:`port`, as another program holding that port would be.
struct ListeningSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("cannot listen on 127.0.0.1:\(port): \(reason)")
        }
    }

    func release() { close(fd) }
}
