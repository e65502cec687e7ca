import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Store
import SyncServer


struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage API tokens (admin).", subcommands: [Create.self, List.self, Revoke.self, Rotate.self])

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case admin, staff, reporter

        var tokenRole: TokenRecord.Role {
            switch self {
            case .admin: .admin
            case .staff: .staff
            case .reporter: .reporter
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is printed once.")
        @Option(help: "admin, staff or reporter.") var role: Role
        @Option(help: "Who will use it (recorded as the user of their movements).") var name: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/tokens", json: API.TokenBody(role: role.tokenRole, name: name))
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let token = try node.decode(API.Token.self, reply)
                print(token.token ?? "")
                FileHandle.standardError.write(Data("created \(token.role) token \(token.id) for \(token.name); the secret above is shown once\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/tokens")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let tokens = try node.decode([API.Token].self, reply)
                print(Table(
                    headers: ["ID", "NAME", "ROLE", "CREATED", "ROTATED", "REVOKED"],
                    rows: tokens.map {
                        [$0.id, $0.name, $0.role, Formatting.time($0.createdAt), $0.rotatedAt.map { Formatting.time($0) } ?? "", $0.revoked ? "yes" : ""]
                    }).render())
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once.")
        @Argument(help: "The token id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.DELETE, "/v1/tokens/\(id)")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                print("revoked \(id)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a token a new secret (same id and role); the new secret is printed once.",
            discussion: """
                The old secret stops working at once, or after --grace. Rotating the admin token kept in the data \
                directory (admin.token) also rewrites that file, so later commands with --data keep working.
                """)
        @Argument(help: "The token id (the <id> of inv_<id>_<secret>).") var id: String
        // Read unconditionally, so that `--grace -1m` is told it is negative rather than taken for an option.
        @Option(
            name: .customLong("grace"), parsing: .unconditional,
            help: ArgumentHelp("How long the old secret keeps working, e.g. 90s, 10m, 2h, 1d (default: it stops at once; at most 30d).", valueName: "grace"))
        var graceArgument: String?
        @OptionGroup var client: ClientOptions

        /// Parsed; `validate()` has already refused a value that does not parse, with its own message.
        var grace: GraceDuration? { graceArgument.flatMap { try? GraceDuration($0, option: "--grace") } }

        func validate() throws {
            if let graceArgument { _ = try GraceDuration(graceArgument, option: "--grace") }
        }

        func run() async throws {
            // The admin token file of the data directory, if it holds this token: it must follow the rotation.
            let directory = client.dataDirectory
            let storedToken = directory?.readAdminToken()
            let rewritesFile = storedToken.map { $0.split(separator: "_").dropFirst().first == Substring(id) } ?? false
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/tokens/\(id)/rotate", json: API.RotationBody(graceSeconds: grace?.seconds))
                let token = try node.decode(API.Token.self, reply)
                var notes: [String] = []
                if rewritesFile, let directory, let secret = token.token {
                    do {
                        try directory.writeAdminToken(secret)
                        notes.append("updated \(directory.adminTokenFile) with the new secret")
                    } catch {
                        throw CLIError("the token was rotated but \(directory.adminTokenFile) could not be updated (\(error)); "
                            + "write the new secret there by hand: \(secret)")
                    }
                }
                if client.json {
                    try JSONOutput.print(raw: reply.body)
                } else {
                    print(token.token ?? "")
                    let until = token.previousValidUntil.map { "keeps working until \($0)" } ?? "no longer works"
                    notes.insert("rotated \(token.role) token \(token.id) (\(token.name)); the secret above is shown once; the old secret \(until)", at: 0)
                }
                for note in notes { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            }
        }
    }
}
