import ArgumentParser
import SyncServer

/// `inv-bench`: release-build benchmarks that print figures beside the limits they are compared with.
@main
struct InvBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inv-bench",
        abstract: "Benchmarks for inv (run with -c release).",
        subcommands: [StoreBench.self, APIBench.self, SyncBench.self, PushBench.self, BenchNode.self]
    )

    /// The nodes it starts (`inv-bench node`) allocate as `inv serve` does.
    static func main() async {
        AllocatorTuning.keepFreedMemoryForReuse()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
