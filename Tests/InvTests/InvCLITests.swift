import Foundation
import Testing

/// Every test here runs the built `inv` binary as real processes against real nodes on 127.0.0.1.
///
/// Serialized: the tests start servers and measure shutdown times, which parallel runs on a small machine would skew.
@Suite("inv CLI as real processes", .serialized, .timeLimit(.minutes(5)))
struct InvCLITests {}

/// Checks the one-line error contract: non-zero exit, nothing on stdout, exactly one stderr line `inv: error: …`.
///
/// - Returns: the error line, for tests that also check its text.
@discardableResult
func expectOneLineError(_ result: InvResult, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    #expect(result.status != 0, "expected a failure: \(result)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "expected nothing on stdout: \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "expected one stderr line: \(result)", sourceLocation: sourceLocation)
    let line = result.stderrLines.first ?? ""
    #expect(line.hasPrefix("inv: error: "), "expected `inv: error: …`: \(result)", sourceLocation: sourceLocation)
    #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Program crashed"), "\(result)", sourceLocation: sourceLocation)
    return line
}

/// Checks a successful run: exit 0 and nothing on stderr.
func expectSuccess(_ result: InvResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 0 && result.stderr.isEmpty, "expected success: \(result)", sourceLocation: sourceLocation)
}

/// The POSIX permission bits of `path`.
func permissions(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    guard let mode = attributes[.posixPermissions] as? NSNumber else { throw HarnessError("no permissions for \(path)") }
    return mode.intValue & 0o777
}
