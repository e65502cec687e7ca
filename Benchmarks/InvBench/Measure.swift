import Foundation

/// Peak resident set size (VmHWM) of a process — this one by default — in MiB; 0 when /proc cannot be read.
func peakRSSMegabytes(pid: String = "self") -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return 0
}

/// Resident set size (VmRSS) of a process now, in MiB; 0 when /proc cannot be read.
func residentMegabytes(pid: String = "self") -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return 0
}

/// Monotonic seconds.
func now() -> Double {
    // DispatchTime is CLOCK_MONOTONIC; `timespec` is ambiguous between Glibc and CoreFoundation once PostgresNIO is
    // linked in.
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// The value below which a fraction `p` of `sorted` (ascending, not empty) lies: nearest rank, no interpolation.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func figure(_ name: String, _ value: Double, _ unit: String, limit: String? = nil) {
    let formatted = value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
    print("\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(formatted) \(unit)" + (limit.map { "   (limit: \($0))" } ?? ""))
}

/// A figure beside the same figure of a reference measured in the same run, and the limit it is held to, if any.
func figure(_ name: String, _ value: Double, _ unit: String, reference: (name: String, value: Double), limit: String? = nil) {
    func formatted(_ value: Double) -> String { value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value) }
    let note = "\(reference.name): \(formatted(reference.value))" + (limit.map { "; limit: \($0)" } ?? "")
    print("\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(formatted(value)) \(unit)   (\(note))")
}

func scratchDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("inv-bench-\(name)-\(getpid())").path
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// User plus system CPU seconds a process has used so far (from `/proc/PID/stat`).
func cpuSeconds(pid: String = "self") -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let afterName = stat.lastIndex(of: ")")
    else { return 0 }
    // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: afterName)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
