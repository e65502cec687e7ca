import Foundation

/// A progress line on standard error, redrawn in place with `\r`, for people watching a terminal.
///
/// Draw only when ``isTerminal`` (never in pipes, files or `--json` runs), and ``clear()`` before the final
/// output, so what stays on screen is exactly what a non-terminal run prints.
struct TerminalProgress {
    /// Whether standard error is a terminal.
    static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Replaces the current line with `line`.
    func draw(_ line: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    /// Erases the progress line.
    func clear() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
