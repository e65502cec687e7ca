import ArgumentParser

/// `inv`: the one executable — the node server, the demo and every client command.
@main
struct Inv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inv",
        abstract: "Offline-first inventory for many warehouses.",
        subcommands: [Demo.self]
    )
}
