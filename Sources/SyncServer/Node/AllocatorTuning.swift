#if canImport(Glibc)
import Glibc
#endif

/// Keeps memory the node frees inside the process, for reuse, instead of handing it back to the kernel.
///
/// A catch-up page decodes into buffers of tens of megabytes (50,000 operations, their events). glibc serves
/// blocks that large with `mmap` and unmaps them on free, gives each busy thread its own arena made of 64 MiB heaps
/// that it releases when they empty, and trims free memory back to the kernel: each page then touched brand-new
/// memory, which the kernel zeroes page by page. That zeroing and its page faults were a tenth of a catching-up
/// writer's time. With one arena, a 32 MiB mmap threshold (glibc's ceiling) and a 256 MiB trim threshold those
/// buffers are reused. The costs: up to 256 MiB of freed memory may stay resident (peak RSS fell all the same,
/// 140 → 134 MiB on the catching-up node of `inv-bench sync`), and threads share one allocator lock, which on a
/// node's few cores did not show in any benchmark.
public enum AllocatorTuning {
    /// glibc's `M_TRIM_THRESHOLD`, `M_MMAP_THRESHOLD` and `M_ARENA_MAX` (`malloc.h`, which Swift's Glibc module
    /// does not export).
    private static let trimThreshold: Int32 = -1
    private static let mmapThreshold: Int32 = -3
    private static let arenaMax: Int32 = -8

    /// Applies the settings; a no-op where `mallopt` does not exist. Call it first thing in `main`: a thread that
    /// has allocated already keeps the arena it was given (applied later, in `NodeServer.run`, it left nine page
    /// faults in ten in place).
    public static func keepFreedMemoryForReuse() {
        #if canImport(Glibc)
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(arenaMax, 1)
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 256 << 20)
        #endif
    }
}
