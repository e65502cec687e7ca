import Foundation
import Testing

extension InvCLITests {
    @Suite("inv demo")
    struct DemoTests {
        @Test("Ctrl-C stops every node, removes the directory and exits 130 with no error line")
        func interrupt() throws {
            let root = try TemporaryDirectory()
            defer { root.cleanup() }
            let demo = try ChildProcess(inv: ["demo"], outputIn: root.path)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("inv-demo-\(demo.pid)").path
            defer {
                for pid in Self.processes(mentioning: directory) { kill(pid, SIGKILL) }
                try? FileManager.default.removeItem(atPath: directory)
            }
            // Interrupt once all three nodes run (the interrupt handler is installed before the first starts).
            let running = waitUntil(.seconds(60)) { Self.processes(mentioning: directory).count >= 3 }
            try #require(running, "the demo's three nodes did not start: \(demo.result())")
            let status = demo.stop(signal: SIGINT, grace: .seconds(20))
            let result = demo.result()

            #expect(status == 130, "\(result)")
            #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) left behind: \(result)")
            #expect(Self.processes(mentioning: directory).isEmpty, "node processes left behind: \(result)")
            #expect(result.stderrLines.filter { !$0.isEmpty } == ["interrupted: stopping the demo's nodes"], "\(result)")
        }

        /// Processes whose command line names `path` (the demo's `inv serve --data PATH/NODE`).
        static func processes(mentioning path: String) -> [pid_t] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { entry in
                guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
                let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                return arguments.contains { $0.hasPrefix(path + "/") } ? pid : nil
            }
        }
    }
}
