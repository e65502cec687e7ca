import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Store

/// `GET /v1/backup`: a consistent copy of the node's database, streamed (admin only).
///
/// The copy is made first, beside the running writer (see `DatabaseBackup`), into an owner-only temporary file in
/// the data directory, which is opened and unlinked at once, then streamed: the response has a `Content-Length`,
/// and a client that stops reading leaves nothing behind. Used by `inv backup --node URL`; with `--data` the CLI reads the database
/// file itself, the same way.
struct BackupController {
    let node: InvNode

    /// The media type of an SQLite database file.
    static let contentType = "application/vnd.sqlite3"

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("backup", use: backup)
    }

    @Sendable func backup(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let temporary = DurableFile.temporaryPath(beside: node.directory.databaseFile, suffix: "backup")
        let pool = node.store.pool
        // SQLite's backup blocks its thread for the whole copy: keep it off the server's event loops.
        let summary: BackupSummary
        do {
            summary = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .utility).async {
                    continuation.resume(with: Result { () throws(BackupError) in try DatabaseBackup.write(from: pool, to: temporary) })
                }
            }
        } catch {
            try? DurableFile.remove(temporary)
            context.logger.error("backup failed: \(error)")
            throw APIError(.serviceUnavailable, "backup_failed", "backup failed: \(error)")
        }
        let size: Int
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: temporary))
            size = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
        } catch {
            try? DurableFile.remove(temporary)
            throw APIError(.serviceUnavailable, "backup_failed", "cannot read the backup: \(error)")
        }
        // The file stays readable through the open handle; its name goes at once.
        do { try DurableFile.remove(temporary) } catch {
            context.logger.warning("could not remove the backup's temporary file \(temporary): \(error)")
        }
        var headers = HTTPFields()
        headers[.contentType] = Self.contentType
        headers[.contentLength] = String(size)
        headers[HTTPField.Name("x-inv-operations")!] = String(summary.operations)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { try? handle.close() }
            while true {
                let chunk = try handle.read(upToCount: 256 << 10) ?? Data()
                if chunk.isEmpty { break }
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        })
    }
}
