import ArgumentParser

/// `inv-bench`: release-build benchmarks that print figures beside the limits they are compared with.
@main
struct InvBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inv-bench",
        abstract: "Benchmarks for inv (run with -c release).",
        subcommands: [
            StoreBench.self, APIBench.self, SyncBench.self, PushBench.self, FanoutBench.self, ExportBench.self, ImportBench.self, BenchNode.self,
        ]
    )
}
