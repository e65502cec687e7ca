import Foundation

/// The exclusive lock on a data directory's `inv.lock` (`flock`), held by `inv serve` for as long as it runs and by
/// `inv restore` while it replaces the database: one process per data directory.
///
/// The kernel drops the lock when its process ends, however it ends, so a crashed node never leaves it behind.
public final class DirectoryLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock, or returns nil at once when another process holds it.
    ///
    /// - Throws: `NodeError.other` when the lock file cannot be opened.
    public init?(_ directory: DataDirectory) throws(NodeError) {
        let fd = open(directory.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .other("cannot open \(directory.lockFile): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(fd)
            return nil
        }
        descriptor = fd
    }

    /// Releases the lock (also done when the lock is deallocated).
    public func release() { flock(descriptor, LOCK_UN) }

    deinit { Glibc.close(descriptor) }
}
