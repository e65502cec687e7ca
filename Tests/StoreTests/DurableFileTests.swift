import Foundation
import Store
import Testing

/// `DurableFile.write`, the one atomic file write, on real files: contents, exact modes, no temporary file left
/// behind (after success or failure), create-if-absent, and a replacement no reader ever sees half done.
@Suite("DurableFile: the atomic, durable file write")
struct DurableFileTests {
    static func contents(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber).intValue
    }

    /// The names in `directory`, sorted.
    static func names(_ directory: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test("a new file holds the bytes, has exactly the mode asked for, and nothing else is left in the directory",
          arguments: [0o600, 0o644, 0o666, 0o400] as [mode_t])
    func writesContentsWithTheExactMode(mode: mode_t) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.file("config.json")
        // 0666 is wider than the usual umask (022) lets open(2) create: fchmod sets the mode exactly.
        try DurableFile.write(Array("{\"a\":1}\n".utf8), to: path, mode: mode, replacing: true)
        #expect(try Self.contents(path) == Array("{\"a\":1}\n".utf8))
        #expect(try Self.mode(path) == Int(mode))
        #expect(try Self.names(directory) == ["config.json"], "no temporary file left")
    }

    @Test("an empty file and a large one are written whole")
    func emptyAndLarge() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.file("blob")
        try DurableFile.write([], to: path, mode: 0o600, replacing: true)
        #expect(try Self.contents(path) == [])
        let large = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        try DurableFile.write(large, to: path, mode: 0o600, replacing: true)
        #expect(try Self.contents(path) == large)
        #expect(try Self.names(directory) == ["blob"])
    }

    @Test("replacing swaps the whole file: new contents and mode, a new inode, the old one intact for whoever holds it")
    func replacesAtomically() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.file("admin.token")
        try DurableFile.write(Array("old token, longer than the new one\n".utf8), to: path, mode: 0o644, replacing: true)
        let before = try #require(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)
        let held = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? held.close() }

        try DurableFile.replace(path, with: Array("new\n".utf8))
        #expect(try Self.contents(path) == Array("new\n".utf8))
        #expect(try Self.mode(path) == 0o600, "replace writes owner-only unless told otherwise")
        let after = try #require(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)
        #expect(before != after, "a new file renamed over the old one, not the old one rewritten in place")
        #expect(try held.readToEnd() == Data("old token, longer than the new one\n".utf8), "the old file is untouched")
        #expect(try Self.names(directory) == ["admin.token"])
    }

    @Test("a reader racing 300 replacements only ever sees one whole version, never a mix or a part")
    func readersNeverSeeAPart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.file("cursor")
        // Versions of different lengths (up to 96 KiB, so a write takes several system calls), each one byte repeated.
        let versions = (0..<300).map { index in [UInt8](repeating: UInt8(65 + index % 26), count: 1 + (index * 7_919) % 98_304) }
        try DurableFile.write(versions[0], to: path, mode: 0o600, replacing: true)
        let valid = Set(versions)
        let writer = Task.detached {
            for version in versions.dropFirst() { try DurableFile.write(version, to: path, mode: 0o600, replacing: true) }
        }
        let reader = Task.detached { () throws -> Int in
            var bad = 0
            for _ in 0..<2_000 where !valid.contains(try Self.contents(path)) { bad += 1 }
            return bad
        }
        try await writer.value
        #expect(try await reader.value == 0, "reads that saw neither the old file nor the new one whole")
        #expect(try Self.contents(path) == versions.last)
        #expect(try Self.names(directory) == ["cursor"], "no temporary file left")
    }

    @Test("without replacing, an existing file is refused and left as it was; an absent one is created")
    func createIfAbsent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.file("ca-key.pem")
        try DurableFile.write(Array("first".utf8), to: path, mode: 0o600, replacing: false)
        #expect(try Self.contents(path) == Array("first".utf8))
        do {
            try DurableFile.write(Array("second".utf8), to: path, mode: 0o644, replacing: false)
            Issue.record("an existing file was replaced")
        } catch {
            #expect(error.destinationExists)
            #expect(error.path == path)
        }
        #expect(try Self.contents(path) == Array("first".utf8))
        #expect(try Self.mode(path) == 0o600)
        #expect(try Self.names(directory) == ["ca-key.pem"], "no temporary file left")
    }

    @Test("a failed write throws, names the failing call and leaves no temporary file")
    func failuresLeaveNothingBehind() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        // The destination is a directory: the rename fails after the temporary file was written and synced.
        let occupied = directory.file("occupied")
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: occupied + "/inside", withIntermediateDirectories: false)
        #expect(throws: DurableFile.WriteFailure.self) { try DurableFile.write(Array("x".utf8), to: occupied, mode: 0o600, replacing: true) }
        do { try DurableFile.write(Array("x".utf8), to: occupied, mode: 0o600, replacing: true) } catch {
            #expect(error.operation == "rename" && error.path == occupied, "\(error)")
            #expect(!error.destinationExists)
        }
        #expect(try Self.names(directory) == ["occupied"], "no temporary file left")
        // A directory that does not exist: nothing can be created.
        #expect(throws: BackupError.self) { try DurableFile.replace(directory.file("missing/file"), with: [1]) }
        #expect(try Self.names(directory) == ["occupied"])
    }
}
