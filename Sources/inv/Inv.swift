import ArgumentParser
import Foundation

/// `inv`: the one executable — the node server, the demo and every client command.
@main
struct Inv: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inv",
        abstract: "Offline-first inventory for many warehouses.",
        discussion: "Each warehouse runs one node (`inv init`, `inv serve`); staff use the client commands against it.",
        version: "0.1.0",
        subcommands: [
            Init.self, Serve.self, Demo.self,
            ProductCommand.self, Receive.self, Sell.self, Adjust.self, Transfer.self, Transfers.self, Accept.self,
            Stock.self, History.self, Report.self, Alerts.self, Watch.self, Status.self, TokenCommand.self,
            Sync.self, PeerCommand.self, CertCommand.self, Conflicts.self, Snapshot.self, Backup.self, Restore.self,
            Changes.self, Export.self, Count.self, DocumentCommand.self, Import.self, Scan.self,
        ]
    )

    /// Runs the command; any failure is one line on stderr (`inv: error: …`) and a non-zero exit.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode {
                // Help, version, or a command that already said why it failed.
                exit(withError: error)
            }
            let text = message(for: error)
            let line = text.split(separator: "\n").first.map(String.init) ?? text
            FileHandle.standardError.write(Data("inv: error: \(line)\n".utf8))
            _exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}
