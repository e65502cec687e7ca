import ArgumentParser
import Foundation
import NIOCore
import SyncServer

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print live events (movements, product changes, alerts), one line each, until interrupted.",
        discussion: """
            Each line: local time, warehouse, type, SKU, change, stock on hand after it, user and reference, e.g. \
            `14:02:11  SEV  sell      CHAIR-01   -3  (on hand 9)  ana  ref SO-77`. Alerts are shown in colour on a \
            terminal (not with NO_COLOR set). When the node goes away, watch says so on stderr and reconnects with \
            backoff (1 s, doubling up to 30 s); with --once it exits 1 instead.
            """)
    @Flag(help: "Exit with status 1 when the node goes away, instead of reconnecting.") var once = false
    @OptionGroup var client: ClientOptions

    /// The wait between reconnection attempts: 1 s doubling up to 30 s, without jitter (one watcher per person,
    /// not a fleet retrying in lockstep), for as long as it takes.
    static let reconnection = BackoffSchedule(first: .seconds(1), cap: .seconds(30))

    func run() async throws {
        let colour = !client.json && Terminal.colour
        var connected = false
        // Reconnection attempts that failed in a row since the stream last delivered anything.
        var failures = 0
        // What was last said about the node going away (not repeated for every failed attempt).
        var reasonShown = ""
        let url = try client.target().url
        while true {
            var reason = "the event stream ended"
            do {
                try await NodeClient.with(client) { node in
                    var parser = EventStreamParser()
                    try await node.stream("/v1/events") { chunk in
                        if !connected {
                            connected = true
                        } else if !reasonShown.isEmpty {
                            Self.say("reconnected to \(url)")
                            reasonShown = ""
                        }
                        failures = 0
                        for event in parser.feed(chunk.readableBytesView) {
                            guard let line = Self.line(event, json: client.json, colour: colour) else { continue }
                            FileHandle.standardOutput.write(Data((line + "\n").utf8))
                        }
                    }
                }
            } catch {
                // The first connection's failure is the command's failure, as for any other command.
                guard connected else { throw error }
                reason = (error as? CLIError)?.description ?? String(describing: error)
            }
            guard connected else { throw CLIError("the node at \(url) closed the event stream at once") }
            if once {
                Self.say("the node at \(url) went away: \(reason)")
                throw ExitCode(1)
            }
            failures += 1
            let delay = Self.reconnection.delay(afterFailures: failures, jitter: 1) ?? Self.reconnection.cap
            let seconds = delay.components.seconds
            if reasonShown != reason {
                Self.say("the node at \(url) went away: \(reason); reconnecting (retrying every \(seconds) s at first, then less often)")
                reasonShown = reason
            }
            try await Task.sleep(for: delay)
        }
    }

    /// One line on stderr.
    static func say(_ line: String) {
        FileHandle.standardError.write(Data("inv watch: \(line)\n".utf8))
    }

    /// The line printed for one event; `nil` for events that print nothing.
    static func line(_ event: EventStreamParser.Event, json: Bool, colour: Bool, now: Date = Date()) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8), options: [.fragmentsAllowed])
        if json {
            let wrapped: [String: Any] = ["event": event.name, "data": object ?? event.data]
            guard let data = try? JSONSerialization.data(withJSONObject: wrapped, options: [.sortedKeys, .withoutEscapingSlashes]) else {
                return nil
            }
            return String(decoding: data, as: UTF8.self)
        }
        let fields = object as? [String: Any] ?? [:]
        func text(_ key: String) -> String? { fields[key] as? String }
        func number(_ key: String) -> Int64? { (fields[key] as? NSNumber)?.int64Value }
        func time(_ key: String) -> String { text(key).map { Formatting.time($0, timeOnly: true) } ?? Formatting.time(now, timeOnly: true) }
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        let warehouse = text("warehouse") ?? text("origin") ?? "-"
        let sku = text("sku") ?? "-"
        switch event.name {
        case "movement":
            let delta = Formatting.signed(number("delta") ?? 0)
            var parts = [
                time("timestamp"), pad(warehouse, 3), pad(text("type") ?? "-", 8),
                pad(sku, 10) + String(repeating: " ", count: max(3 - delta.count, 0)) + delta,
            ]
            if let onHand = number("on_hand") { parts.append("(on hand \(Formatting.count(onHand)))") }
            parts.append(text("user") ?? "-")
            if let counterpart = text("counterpart") {
                parts.append(text("type") == "accept" ? "from \(counterpart)" : "to \(counterpart)")
            }
            if let reference = text("reference") { parts.append("ref \(reference)") }
            if let reason = text("reason") { parts.append("reason: \(reason)") }
            return parts.joined(separator: "  ")
        case "product":
            return [time("timestamp"), pad(text("origin") ?? "-", 3), pad(text("type") ?? "product", 8), sku, text("user") ?? "-"]
                .joined(separator: "  ")
        case "alert":
            if text("state") == "cleared" {
                return [time("-"), pad(warehouse, 3), pad("cleared", 8), pad(sku, 10), "back above its reorder point"].joined(separator: "  ")
            }
            let onHand = number("quantity").map(Formatting.count) ?? "?"
            let point = number("reorder_point").map(Formatting.count) ?? "?"
            let line = [time("raised_at"), pad(warehouse, 3), pad("ALERT", 8), pad(sku, 10), "on hand \(onHand), reorder point \(point)"]
                .joined(separator: "  ")
            return Terminal.alert(line, colour: colour)
        case "lagged":
            return Formatting.time(now, timeOnly: true) + "  (this watch fell behind; some events were not shown)"
        default:
            return nil
        }
    }
}
