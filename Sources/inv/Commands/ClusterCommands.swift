import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import SyncServer

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sync now with every reachable peer, and wait; or pause and resume sync (a rehearsed WAN outage).")
    @Flag(help: "Stop syncing with peers (both directions) until --resume.") var pause = false
    @Flag(help: "Resume syncing and catch up at once.") var resume = false
    @Flag(help: "Show each failure's full detail under its line.") var verbose = false
    @Option(help: "Seconds to wait for each peer's round; a peer still syncing then is reported and the others go on.")
    var timeout = 10
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if pause && resume { throw ValidationError("--pause and --resume exclude each other") }
        guard (1...3_600).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 3600 seconds, got \(timeout)") }
    }

    func run() async throws {
        try await NodeClient.with(client) { node in
            if pause || resume {
                let reply = try await node.send(.PUT, "/v1/sync/paused", json: API.SyncPaused(paused: pause))
                if client.json { return try JSONOutput.print(raw: reply.body) }
                return print(pause ? "sync paused: this node neither calls nor answers its peers" : "sync resumed")
            }
            if client.json {
                let reply = try await node.send(.POST, "/v1/sync", query: [("timeout", String(timeout))])
                let reports = try node.decode([PeerSyncer.RoundReport].self, reply)
                // Scripts read the exit status too: a failed round is exit 2 with --json as well.
                try JSONOutput.print(raw: reply.body)
                if reports.contains(where: { !$0.ok }) { throw ExitCode(2) }
                return
            }
            // A report's `pulled` counts only the round this command forced; the background loop may have merged
            // most of what was missing meanwhile (the progress line shows it). What this node gained is what it
            // holds after the command less what it held before.
            let before = try await Self.operationsHeld(node)
            let query = [("timeout", Optional(String(timeout)))]
            let reply = TerminalProgress.isTerminal
                ? try await Self.syncShowingProgress(node, query: query) : try await node.send(.POST, "/v1/sync", query: query)
            let reports = try node.decode([PeerSyncer.RoundReport].self, reply)
            if reports.isEmpty { return print("no peers") }
            let urls = (try? await Self.peerURLs(node)) ?? [:]
            for report in reports {
                if report.ok {
                    print("\(report.peer): synced, \(SyncProgress.grouped(report.pushed)) sent")
                } else {
                    let error = report.error ?? "unknown error"
                    print("\(report.peer): " + PeerMessage.failure(report.failure, url: urls[report.peer]))
                    if verbose { print("  detail: \(error)") }
                }
            }
            let after = try await Self.operationsHeld(node)
            print("gained \(SyncProgress.grouped(max(after - before, 0))) operations during this sync; this node holds \(SyncProgress.grouped(after))")
            if reports.contains(where: { !$0.ok }) { throw ExitCode(2) }
        }
    }
}

extension Sync {
    /// Runs the sync request while polling `/v1/status` twice a second, drawing each peer's round progress
    /// (operations merged so far, operations still behind) on the terminal; the line is erased at the end.
    static func syncShowingProgress(_ node: NodeClient, query: [(String, String?)]) async throws -> NodeClient.Reply {
        let terminal = TerminalProgress()
        defer { terminal.clear() }
        return try await withThrowingTaskGroup(of: NodeClient.Reply?.self) { group in
            group.addTask { try await node.send(.POST, "/v1/sync", query: query) }
            group.addTask {
                while true {
                    do { try await Task.sleep(for: .milliseconds(500)) } catch { return nil }
                    // Progress is a courtesy: a status that fails to load just skips one redraw.
                    guard let reply = try? await node.send(.GET, "/v1/status"),
                          let line = SyncProgress.line(progress(inStatus: reply.body))
                    else { continue }
                    terminal.draw(line)
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let reply = result { return reply }
            }
            throw CLIError("sync ended without an answer")
        }
    }

    /// Each member's sync URL, from `/v1/peers`.
    static func peerURLs(_ node: NodeClient) async throws -> [String: String] {
        let members = try node.decode([API.Member].self, try await node.send(.GET, "/v1/peers"))
        return Dictionary(members.map { ($0.warehouse, $0.peerURL) }) { first, _ in first }
    }

    /// How many operations the node's ledger holds, from `/v1/status`.
    static func operationsHeld(_ node: NodeClient) async throws -> Int {
        try node.decode(API.Status.self, try await node.send(.GET, "/v1/status")).operations
    }

    /// The peers with a round in progress in a `/v1/status` body, sorted by warehouse.
    static func progress(inStatus body: Data) -> [SyncProgress] {
        guard let status = try? JSONDecoder().decode(API.Status.self, from: body) else { return [] }
        return (status.peers ?? []).compactMap { peer in
            peer.roundMerged.map { SyncProgress(peer: peer.warehouse, merged: $0, behind: peer.operationsAhead ?? 0) }
        }
    }
}

struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Cluster membership: add, list, retire and re-admit peers.",
        subcommands: [Add.self, List.self, Remove.self, Readmit.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a peer by the URL of its sync listener (https://HOST:PORT).")
        @Argument(help: "The peer's sync URL.") var url: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/peers", json: API.PeerBody(url: url))
                if client.json { return try JSONOutput.print(raw: reply.body) }
                print("added peer \(try node.decode(API.Member.self, reply).warehouse) at \(url)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the cluster's members and how each peer is doing.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/peers")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let members = try node.decode([API.Member].self, reply)
                print(Table(
                    headers: ["WAREHOUSE", "PEER URL", "STATE", "LAST SYNC", "STREAM", "BEHIND"],
                    rows: members.map { member in
                        let state: String
                        if member.isSelf {
                            state = member.retired ? "this node (retired)" : "this node"
                        } else if member.retired {
                            state = "retired"
                        } else {
                            state = PeerMessage.state(reachable: member.status?.reachable ?? false, failure: member.status?.lastFailure)
                        }
                        return [
                            member.warehouse, member.peerURL, state, member.status?.lastSync.map { Formatting.time($0) } ?? "-",
                            member.status.map(PeerMessage.stream) ?? "-", member.status?.operationsBehind.map(Formatting.count) ?? "-",
                        ]
                    }).render())
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire a warehouse: no node contacts it any more; its history stays.",
            discussion: """
                Run it on the node that holds the cluster CA key (the one the cluster was founded on): the retirement \
                is signed with that key, and every member, the retired one included, takes it from whichever peer \
                passes it on. The retired node refuses local writes once it learns it (at its next sync). Refused while goods are in \
                transit to or from the warehouse (only the destination can accept them), unless --force; such goods \
                are then listed by `inv transfers` as stranded. `inv peer readmit` brings a retired warehouse back.

                A warehouse can also retire itself: run it on its own node, naming that node's warehouse. The \
                retirement is signed with the node's own key (the one its member certificate certifies), the node \
                refuses local writes at once, and members learn it at its next sync. Only the node holding the \
                cluster CA key can re-admit it.
                """)
        @Argument(help: "The warehouse id.") var warehouse: String
        @Flag(help: "Retire it even with goods in transit to or from it (they stay stranded).") var force = false
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.DELETE, "/v1/peers/\(warehouse)", query: [("force", force ? "true" : nil)])
                if client.json { return try JSONOutput.print(raw: reply.body) }
                if try node.decode(API.Member.self, reply).isSelf {
                    print("retired \(warehouse), this node: it refuses local writes now; members learn it at its next sync")
                } else {
                    print("retired \(warehouse)")
                }
            }
        }
    }

    struct Readmit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-admit a retired warehouse (admin): the explicit act `inv peer add` never performs.",
            discussion: """
                Run it on the node that holds the cluster CA key, as `inv peer remove`. Every member learns it at its \
                next sync, and the warehouse accepts local writes again.
                """)
        @Argument(help: "The warehouse id.") var warehouse: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/peers/\(warehouse)/readmit")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                print("re-admitted \(warehouse); members learn it at their next sync")
            }
        }
    }
}

struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Cluster certificates: issue, show, rotate, install.",
        subcommands: [Issue.self, Show.self, Rotate.self, Install.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a join bundle for a new warehouse (run on the node holding the cluster CA key).")
        @Argument(help: "The new warehouse's id.") var warehouse: String
        @Option(help: "Where to write the bundle (mode 0600: it holds a private key).") var out: String
        @Option(help: "A host name or IP the new node will be reached at (repeatable; default: this node's host, for nodes on one machine).")
        var host: [String] = []
        @Option(help: "The data directory of this node (default: $INV_DATA or ./inv-data).") var data: String?

        func run() async throws {
            let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
            let config = try directory.loadConfig()
            let bundle = try JoinBundle.issue(warehouse: warehouse, hosts: host, directory: directory, config: config)
            try bundle.write(to: out)
            print("wrote join bundle for \(warehouse) to \(out); on the new node run: inv init --warehouse \(warehouse) --join \(out)")
            print("(to renew the certificate of an existing node \(warehouse) instead, run there: inv cert install \(out))")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show this node's certificate (serial, expiry, hosts) and the cluster CA's, from the data directory.")
        @Option(help: "The data directory of this node (default: $INV_DATA or ./inv-data).") var data: String?
        @Flag(help: "Print machine-readable JSON.") var json = false

        func run() async throws {
            struct Shown: Encodable {
                var node: API.Certificate
                var ca: API.Certificate
                var caKeyPresent: Bool
                enum CodingKeys: String, CodingKey {
                    case node, ca
                    case caKeyPresent = "ca_key_present"
                }
            }
            let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
            _ = try directory.loadConfig()
            let files = PKIFiles(directory: directory.tlsDirectory)
            let node = CertificateSummary(try files.loadNode().certificate)
            let ca = CertificateSummary(try files.loadCACertificate())
            let caKeyPresent = FileManager.default.fileExists(atPath: files.caKeyPath)
            if json { return try JSONOutput.print(Shown(node: API.Certificate(node), ca: API.Certificate(ca), caKeyPresent: caKeyPresent)) }
            let now = Date()
            let shownNode = API.Certificate(node)
            let shownCA = API.Certificate(ca)
            print("""
                node certificate: \(node.warehouse ?? node.subject)
                  serial:     \(node.serial)
                  not before: \(shownNode.notBefore)
                  not after:  \(shownNode.notAfter) (\(node.daysLeft(now: now)) days left)
                  hosts:      \(node.hosts.joined(separator: " "))
                cluster CA:   \(ca.subject)
                  not after:  \(shownCA.notAfter) (\(ca.daysLeft(now: now)) days left)
                  key here:   \(caKeyPresent ? "yes (this node can issue and rotate certificates)" : "no (rotate with inv cert issue on the CA node, then inv cert install here)")
                """)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Renew this node's certificate (new key, same warehouse) with the cluster CA key held here.",
            discussion: """
                The new certificate and key replace tls/node.pem and tls/node-key.pem; a running node serves them on \
                every new connection at once (API and peer sync), without a restart. A node without the CA key \
                (tls/ca-key.pem) gets its certificate from the CA node: `inv cert issue WAREHOUSE --out FILE` there, \
                `inv cert install FILE` here.
                """)
        @Option(help: "A host name or IP peers reach this node by (repeatable; default: the hosts of the current certificate).")
        var host: [String] = []
        @Option(help: "How many days the new certificate is valid.") var days = 825
        @OptionGroup var client: ClientOptions

        func validate() throws {
            if client.node != nil { throw ValidationError("cert rotate works on this node's data directory: use --data, not --node") }
            guard days > 0 else { throw ValidationError("--days must be at least 1") }
        }

        func run() async throws {
            guard let directory = client.dataDirectory else { return }
            let outcome = try CertificateRenewal.renew(directory: directory, hosts: host.isEmpty ? nil : host, validityDays: days)
            try await CertCommand.announce(outcome, directory: directory, client: client, verb: "renewed")
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a certificate for this node issued on the CA node (`inv cert issue WAREHOUSE --out FILE`).",
            discussion: "A running node serves it on every new connection at once, without a restart.")
        @Argument(help: "The file written by `inv cert issue` (a join bundle; it holds a private key).") var file: String
        @OptionGroup var client: ClientOptions

        func validate() throws {
            if client.node != nil { throw ValidationError("cert install works on this node's data directory: use --data, not --node") }
        }

        func run() async throws {
            guard let directory = client.dataDirectory else { return }
            let outcome = try CertificateRenewal.install(try JoinBundle.read(from: file), directory: directory)
            try await CertCommand.announce(outcome, directory: directory, client: client, verb: "installed")
        }
    }

    /// Reports a replaced certificate and, when the node is running, makes it serve the new one at once.
    static func announce(_ outcome: CertificateRenewal.Outcome, directory: DataDirectory, client: ClientOptions, verb: String) async throws {
        let shown = API.Certificate(outcome.current)
        var served: API.Certificate?
        if directory.isServing {
            do {
                served = try await NodeClient.with(client) { node in
                    try node.decode(API.Certificate.self, try await node.send(.POST, "/v1/certificate/reload"))
                }
            } catch {
                throw CLIError(
                    "the new certificate is in \(directory.tlsDirectory), but the running node did not load it (\(error)); "
                        + "send it SIGHUP or restart it")
            }
        }
        if client.json {
            struct Shown: Encodable {
                var certificate: API.Certificate
                var reloaded: Bool
                var droppedHosts: [String]
                enum CodingKeys: String, CodingKey {
                    case certificate, reloaded
                    case droppedHosts = "dropped_hosts"
                }
            }
            try JSONOutput.print(Shown(certificate: shown, reloaded: served != nil, droppedHosts: outcome.droppedHosts))
        } else {
            print("\(verb) the certificate of \(outcome.current.warehouse ?? "this node"): serial \(shown.serial), valid until \(shown.notAfter), hosts \(shown.hosts.joined(separator: " "))")
            print(served != nil
                ? "the running node serves it on new connections now (API and peer sync); open connections keep the old one until they close"
                : "the node is not running; inv serve --data \(directory.path) will use it")
        }
        if !outcome.droppedHosts.isEmpty {
            FileHandle.standardError.write(Data("warning: the new certificate no longer names \(outcome.droppedHosts.joined(separator: ", "))\n".utf8))
        }
    }
}

struct Conflicts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Concurrent changes found while merging, with both values.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let reply = try await node.send(.GET, "/v1/conflicts")
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let conflicts = try node.decode([API.Conflict].self, reply)
            if conflicts.isEmpty { return print("no conflicts") }
            print(Table(
                headers: ["KIND", "SKU", "FIELD", "KEPT", "BY", "OVERWRITTEN", "BY"],
                rows: conflicts.map { [$0.kind, $0.sku, $0.field, $0.kept.orDash, $0.keptOrigin, $0.overwritten.orDash, $0.overwrittenOrigin] }).render())
        }
    }
}

struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the merged products, stock and in-transit at one consistent point, with its version vector.")
    @Option(help: "Where to write the JSON snapshot (- for standard output).") var out: String
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let handle: FileHandle
        if out == "-" {
            handle = FileHandle.standardOutput
        } else {
            guard FileManager.default.createFile(atPath: out, contents: nil) else { throw CLIError("cannot write \(out)") }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        }
        try await NodeClient.with(client) { node in
            try await node.stream("/v1/snapshot") { chunk in handle.write(Data(chunk.readableBytesView)) }
        }
        if out != "-" {
            try handle.close()
            FileHandle.standardError.write(Data("wrote snapshot to \(out)\n".utf8))
        }
    }
}

/// What a failed sync with a peer means, in one line for people (`--verbose` shows the detail).
enum PeerMessage {
    /// The line after `PEER: ` for a failed round, by its kind (`--verbose` shows the error itself).
    static func failure(_ kind: PeerFailure?, url: String?) -> String {
        let at = url.map { " at \($0)" } ?? ""
        switch kind {
        case .stillSyncing: return "still syncing\(at) (gave up waiting; its round goes on in the background)"
        case .pausedHere: return "not synced: sync is paused here (inv sync --resume)"
        case .pausedThere: return "sync paused there"
        case .retired: return "retired from the cluster"
        case .connectionRefused: return "not reachable\(at) (connection refused: is inv serve running there?)"
        case .timedOut: return "not reachable\(at) (no answer in time)"
        case .certificate: return "refused\(at): TLS certificates do not match (see --verbose)"
        case .peerError: return "the peer\(at) failed to answer (see --verbose)"
        case .other, nil: return "sync failed\(at) (see --verbose)"
        }
    }

    /// The live stream from a peer: `open since <time>` (the time alone when it opened today), or `closed`.
    static func stream(_ status: PeerSyncer.PeerStatus) -> String {
        guard status.streamConnected == true else { return status.streamConnected == nil ? "-" : "closed" }
        guard let since = status.streamConnectedSince, let date = Formatting.parse(since) else { return "open" }
        return "open since " + Formatting.time(date, timeOnly: Calendar.current.isDateInToday(date))
    }

    /// A peer's state in `inv peer list`: paused is not unreachable.
    static func state(reachable: Bool, failure: PeerFailure?) -> String {
        switch failure {
        case .pausedHere: "paused here"
        case .pausedThere: "paused there"
        default: reachable ? "reachable" : "unreachable"
        }
    }
}
