import Foundation

/// File steps that survive a crash or power cut at any moment: a new file is created owner-only (mode 0600) and
/// exclusively, filled, synced, then renamed over its destination, and the directory is synced so the rename itself
/// is durable. A reader of the destination sees the old file or the whole new one, never a part.
public enum DurableFile {
    /// Creates `path`, which must not exist, empty and with mode 0600.
    ///
    /// - Throws: `BackupError.io` when it exists or cannot be created.
    public static func createExclusive(_ path: String) throws(BackupError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(lastError())") }
        fchmod(fd, 0o600)
        close(fd)
    }

    /// A temporary path in the same directory as `path` (so a rename onto `path` is atomic).
    public static func temporaryPath(beside path: String, suffix: String = "tmp") -> String {
        let url = URL(fileURLWithPath: path)
        let name = ".\(url.lastPathComponent).\(suffix)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Flushes a file's contents to stable storage.
    public static func sync(_ path: String) throws(BackupError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(lastError())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io("cannot sync \(path): \(lastError())") }
    }

    /// Renames `source` onto `destination` (replacing it atomically) and syncs the directory.
    public static func rename(_ source: String, to destination: String) throws(BackupError) {
        guard Glibc.rename(source, destination) == 0 else {
            throw .io("cannot move \(source) to \(destination): \(lastError())")
        }
        try syncDirectory(of: destination)
    }

    /// Removes `path` if it exists; a missing file is not an error.
    public static func remove(_ path: String) throws(BackupError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io("cannot remove \(path): \(lastError())") }
    }

    /// Syncs the directory holding `path`, making renames and removals in it durable.
    public static func syncDirectory(of path: String) throws(BackupError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open directory \(directory): \(lastError())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io("cannot sync directory \(directory): \(lastError())") }
    }

    /// Replaces `path` with `bytes` atomically: a temporary file beside it is written and synced, renamed over
    /// `path`, and the directory synced. A crash at any moment leaves the old contents or the new, never a part.
    public static func replace(_ path: String, with bytes: [UInt8]) throws(BackupError) {
        let temporary = temporaryPath(beside: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(temporary): \(lastError())") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let reason = lastError()
                close(fd)
                unlink(temporary)
                throw .io("cannot write \(temporary): \(reason)")
            }
            offset += written
        }
        guard fsync(fd) == 0 else {
            let reason = lastError()
            close(fd)
            unlink(temporary)
            throw .io("cannot sync \(temporary): \(reason)")
        }
        close(fd)
        do { try rename(temporary, to: path) } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Copies `source` into a new owner-only file `destination` (which must not exist), synced.
    public static func copy(_ source: String, to destination: String) throws(BackupError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .io("cannot read \(source): \(lastError())") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw .io("cannot create \(destination): \(lastError())") }
        defer { close(output) }
        fchmod(output, 0o600)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .io("cannot read \(source): \(lastError())") }
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, count - offset) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw .io("cannot write \(destination): \(lastError())") }
                offset += written
            }
        }
        guard fsync(output) == 0 else { throw .io("cannot sync \(destination): \(lastError())") }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}
