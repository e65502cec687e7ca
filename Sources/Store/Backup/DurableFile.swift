import Foundation

/// File steps that survive a crash or power cut at any moment: a new file is created owner-only (mode 0600) and
/// exclusively, filled, synced, then renamed over its destination, and the directory is synced so the rename itself
/// is durable. A reader of the destination sees the old file or the whole new one, never a part.
///
/// Every file the product writes whole goes through `write(_:to:mode:replacing:)` (or `replace(_:with:mode:)`),
/// from the store's backups to the server's keys and the CLI's cursors: one implementation of the steps.
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
        do { try move(source, to: destination) } catch { throw .io(error.description) }
    }

    /// Removes `path` if it exists; a missing file is not an error.
    public static func remove(_ path: String) throws(BackupError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .io("cannot remove \(path): \(lastError())") }
    }

    /// Syncs the directory holding `path`, making renames and removals in it durable.
    ///
    /// A file system that cannot sync a directory at all (`EINVAL`, `ENOTSUP`: some network and FUSE file systems)
    /// is not an error: there is nothing more this process can do to make the entry durable.
    public static func syncDirectory(of path: String) throws(BackupError) {
        do { try syncDirectory(containing: path) } catch { throw .io(error.description) }
    }

    /// Replaces `path` with `bytes` atomically and durably (see `write(_:to:mode:replacing:)`).
    ///
    /// - Parameter mode: the permission bits of the new file, exactly (owner-only unless said otherwise).
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o600) throws(BackupError) {
        do { try write(bytes, to: path, mode: mode, replacing: true) } catch { throw .io(error.description) }
    }

    /// Why `write(_:to:mode:replacing:)` or `move(_:to:)` failed: the system call, the path it was given and its
    /// `errno`.
    public struct WriteFailure: Error, Equatable, Sendable, CustomStringConvertible {
        public var operation: String
        public var path: String
        public var code: Int32

        public init(operation: String, path: String, code: Int32) {
            self.operation = operation
            self.path = path
            self.code = code
        }

        /// Writing without `replacing` found a file already there (nothing was changed).
        public var destinationExists: Bool { operation == "link" && code == EEXIST }

        public var description: String { "\(operation) of \(path) failed: \(String(cString: strerror(code)))" }
    }

    /// Writes `bytes` to `path` atomically and durably, with permission bits exactly `mode`: the one atomic file
    /// write of the product (configuration, tokens, keys and certificates, join bundles, cursors).
    ///
    /// A temporary file beside `path` (the same directory, so the final step is atomic) is created exclusively with
    /// mode 0600, filled, given `mode` with `fchmod` (which the umask does not narrow), synced, and then renamed
    /// over `path`; without `replacing`, it is hard-linked to `path` instead, which fails rather than replace (an
    /// atomic create-if-absent). Last the directory is synced, so the new name survives a power cut. A reader of
    /// `path` sees the old file or the whole new one, never a part, and never with wider permissions than `mode`;
    /// the temporary file never outlives the call.
    ///
    /// - Throws: `WriteFailure` naming the failing call; `destinationExists` when `replacing` is false and `path`
    ///   exists (then nothing was written).
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t, replacing: Bool) throws(WriteFailure) {
        let temporary = temporaryPath(beside: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw WriteFailure(operation: "open", path: temporary, code: errno) }
        var isOpen = true
        defer {
            if isOpen { close(fd) }
            unlink(temporary)
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw WriteFailure(operation: "write", path: temporary, code: errno) }
            offset += written
        }
        guard fchmod(fd, mode) == 0 else { throw WriteFailure(operation: "fchmod", path: temporary, code: errno) }
        guard fsync(fd) == 0 else { throw WriteFailure(operation: "fsync", path: temporary, code: errno) }
        isOpen = false
        guard close(fd) == 0 else { throw WriteFailure(operation: "close", path: temporary, code: errno) }
        if replacing {
            guard Glibc.rename(temporary, path) == 0 else { throw WriteFailure(operation: "rename", path: path, code: errno) }
        } else {
            guard link(temporary, path) == 0 else { throw WriteFailure(operation: "link", path: path, code: errno) }
        }
        try syncDirectory(containing: path)
    }

    /// Renames `source` onto `destination`, replacing it atomically, and syncs the directory.
    public static func move(_ source: String, to destination: String) throws(WriteFailure) {
        guard Glibc.rename(source, destination) == 0 else {
            throw WriteFailure(operation: "rename", path: destination, code: errno)
        }
        try syncDirectory(containing: destination)
    }

    private static func syncDirectory(containing path: String) throws(WriteFailure) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteFailure(operation: "open", path: directory, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP else {
            throw WriteFailure(operation: "fsync", path: directory, code: errno)
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
                let written = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + offset, count - offset) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw .io("cannot write \(destination): \(lastError())") }
                offset += written
            }
        }
        guard fsync(output) == 0 else { throw .io("cannot sync \(destination): \(lastError())") }
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}
