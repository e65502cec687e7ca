#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Store

/// The POSIX file operations behind ``PKIFiles``, written so a private key is never readable by anyone but its owner.
///
/// Invariants (those of `DurableFile.write`, which does the writing): a file is written under a temporary name
/// created with `O_EXCL` and mode 0600, filled, given its final mode with `fchmod`, synced, and only then given its
/// final name, and the directory is synced (so there is no moment when a key sits under its real name half-written,
/// nor any moment when it is group- or world-readable); without `overwrite`, an existing file is never replaced; the
/// temporary file never outlives the call.
enum SecureFileIO {
    /// The largest file ``contents(of:)`` accepts: PEM files here are a few hundred bytes.
    static let maximumFileSize = 1 << 20

    /// Creates `path` and any missing parents with mode 0700; existing directories are left as they are.
    static func createDirectory(_ path: String) throws(PKIError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw .fileSystem(path: prefix, operation: "mkdir", errno: errno)
            }
            prefix += "/"
        }
    }

    /// Writes `bytes` to `path` with permission bits exactly `mode` (`DurableFile.write`: atomic and durable).
    ///
    /// - Throws: ``PKIError/fileExists(path:)`` if `path` exists and `overwrite` is false;
    ///   ``PKIError/fileSystem(path:operation:errno:)`` if a system call fails.
    static func store(_ bytes: [UInt8], at path: String, mode: UInt16, overwrite: Bool) throws(PKIError) {
        do {
            try DurableFile.write(bytes, to: path, mode: mode_t(mode), replacing: overwrite)
        } catch {
            if error.destinationExists { throw .fileExists(path: path) }
            throw .fileSystem(path: error.path, operation: error.operation, errno: error.code)
        }
    }

    /// Renames `source` to `destination`, replacing it atomically, and makes the change durable.
    ///
    /// - Throws: ``PKIError/fileSystem(path:operation:errno:)``.
    static func move(_ source: String, to destination: String) throws(PKIError) {
        do { try DurableFile.move(source, to: destination) } catch {
            throw .fileSystem(path: error.path, operation: error.operation, errno: error.code)
        }
    }

    /// Removes the file at `path` if there is one; best effort (used to tidy up after a failure).
    static func remove(_ path: String) {
        unlink(path)
    }

    /// The contents of the file at `path`.
    ///
    /// - Throws: ``PKIError/missingFile(path:)`` if there is no such file; ``PKIError/malformedPEM(path:reason:)`` if
    ///   it is larger than ``maximumFileSize``; ``PKIError/fileSystem(path:operation:errno:)`` otherwise.
    static func contents(of path: String) throws(PKIError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw .missingFile(path: path) }
            throw .fileSystem(path: path, operation: "open", errno: errno)
        }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .fileSystem(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return contents }
            contents.append(contentsOf: buffer[..<count])
            guard contents.count <= maximumFileSize else {
                throw .malformedPEM(path: path, reason: "file is larger than \(maximumFileSize) bytes")
            }
        }
    }

    /// Whether a file exists at `path` (anything but "no such file" counts as yes, so the caller errs on the side
    /// of not writing).
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0 || errno != ENOENT
    }

    /// The message for C error code `code`.
    static func errorString(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
