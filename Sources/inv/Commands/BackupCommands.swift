import ArgumentParser
import CRDT
import Foundation
import NIOCore
import Store
import SyncServer

/// `inv backup --out FILE`: a consistent copy of a node's database, taken while it serves and writes.
///
/// With `--data DIR` (the default) the CLI reads the database file itself, served or not: SQLite's online backup
/// inside one WAL read transaction is a consistent snapshot and never blocks the node's writer. With `--node URL`
/// the node makes the same copy and streams it (`GET /v1/backup`, admin token). Either way the file is written
/// owner-only to a temporary name, checked (`integrity_check`, inv schema), synced and renamed into place.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent backup of the node's database (while it serves, or not).",
        discussion: "Restore it with `inv restore FILE --data DIR` on the stopped node.")

    @Option(help: "Where to write the backup (mode 0600; replaced atomically).") var out: String
    @OptionGroup var client: ClientOptions

    /// What `--json` prints.
    struct Written: Encodable {
        var file: String
        var bytes: Int
        var warehouse: String
        var operations: Int
        var versionVector: [String: UInt64]

        enum CodingKeys: String, CodingKey {
            case file, bytes, warehouse, operations
            case versionVector = "version_vector"
        }
    }

    func run() async throws {
        let summary: BackupSummary
        if client.node != nil {
            summary = try await throughNode()
        } else {
            let directory = DataDirectory(path: client.data ?? DataDirectoryOption.defaultPath)
            _ = try directory.loadConfig()
            summary = try DatabaseBackup.write(databaseAt: directory.databaseFile, to: out)
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        let written = Written(
            file: out, bytes: bytes, warehouse: summary.warehouse, operations: summary.operations,
            versionVector: summary.versionVector.jsonEntries)
        if client.json { return try JSONOutput.print(written) }
        print("wrote backup of \(summary.warehouse) to \(out): \(summary.operations) operations, \(bytes) bytes, holds \(summary.versionVector.text)")
    }

    /// Streams `GET /v1/backup` into a temporary file beside `out`, checks it, and renames it into place.
    private func throughNode() async throws -> BackupSummary {
        let temporary = DurableFile.temporaryPath(beside: out, suffix: "download")
        try DurableFile.createExclusive(temporary)
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            do {
                try await NodeClient.with(client) { node in
                    try await node.stream("/v1/backup") { chunk in try handle.write(contentsOf: Data(chunk.readableBytesView)) }
                }
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            let summary: BackupSummary
            do { summary = try DatabaseBackup.inspect(path: temporary) } catch {
                throw CLIError("the node sent a backup that does not check out: \(error)")
            }
            try DurableFile.sync(temporary)
            try DurableFile.rename(temporary, to: out)
            return summary
        } catch {
            try? DurableFile.remove(temporary)
            throw error
        }
    }
}

/// `inv restore FILE --data DIR`: replaces a stopped node's database with a backup (see `NodeRestore`).
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace a stopped node's database with a backup; it catches up with its peers before writing again.",
        discussion: """
            Refused while the node runs, and for a file that is not a sound inv database of this warehouse. After a \
            restore, `inv serve` answers reads at once but refuses writes (503 catching_up) until it has synced with \
            every active member and got back its own operations made after the backup. The node is rebuilt from the \
            backup's rows into a fresh schema; it keeps its own API tokens unless --keep-tokens restores the backup's.
            """)

    @Argument(help: "The backup file (from `inv backup`).") var file: String
    @Option(help: "The node's data directory (default: $INV_DATA or ./inv-data).") var data: String?
    @Flag(help: "Restore the backup's API tokens instead of keeping the node's own.") var keepTokens = false
    @Flag(help: "Print machine-readable JSON.") var json = false

    struct Restored: Encodable {
        var file: String
        var data: String
        var warehouse: String
        var operations: Int
        var versionVector: [String: UInt64]
        var catchingUp: Bool
        var tokensFromBackup: Bool
        var tokens: Int
        var ignoredSchemaObjects: [String]

        enum CodingKeys: String, CodingKey {
            case file, data, warehouse, operations, tokens
            case versionVector = "version_vector"
            case catchingUp = "catching_up"
            case tokensFromBackup = "tokens_from_backup"
            case ignoredSchemaObjects = "ignored_schema_objects"
        }
    }

    func run() async throws {
        let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
        let restored = try NodeRestore.restore(file: file, into: directory, keepTokens: keepTokens)
        let summary = restored.summary
        if let warning = restored.warning { FileHandle.standardError.write(Data("inv: warning: \(warning)\n".utf8)) }
        if !restored.ignoredObjects.isEmpty {
            let objects = restored.ignoredObjects.joined(separator: ", ")
            FileHandle.standardError.write(Data("inv: warning: not restored, not made by inv: \(objects)\n".utf8))
        }
        if json {
            return try JSONOutput.print(Restored(
                file: file, data: directory.path, warehouse: summary.warehouse, operations: summary.operations,
                versionVector: summary.versionVector.jsonEntries, catchingUp: summary.catchingUp,
                tokensFromBackup: restored.keptBackupTokens, tokens: restored.tokens,
                ignoredSchemaObjects: restored.ignoredObjects))
        }
        print("""
            restored \(summary.warehouse) in \(directory.path) from \(file): \(summary.operations) operations, holds \(summary.versionVector.text)
            \(restored.tokensLine)
            on start it answers reads at once, and writes once it has synced with every other active member (at once if there is none)
            """)
    }
}

extension VersionVector {
    /// `{"MAD": 12, ...}` as the API writes version vectors.
    var jsonEntries: [String: UInt64] { Dictionary(uniqueKeysWithValues: entries.map { ($0.key.rawValue, $0.value) }) }

    /// `MAD:12 SEV:3`, sorted.
    var text: String {
        let pairs = entries.map { "\($0.key.rawValue):\($0.value)" }.sorted()
        return pairs.isEmpty ? "nothing" : pairs.joined(separator: " ")
    }
}
