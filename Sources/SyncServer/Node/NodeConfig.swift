import CRDT
import Foundation

/// A node's configuration, kept as `config.json` in its data directory.
///
/// Versioned: a config of an unknown `version` is refused rather than half-understood.
public struct NodeConfig: Codable, Hashable, Sendable {
    public static let currentVersion = 1

    public var version: Int
    /// This node's warehouse (and replica) id.
    public var warehouse: String
    /// A human name for the warehouse.
    public var name: String
    /// Where the HTTPS API listens, `HOST:PORT`.
    public var listen: String
    /// The URL clients and peers use to reach this node.
    public var url: String
    /// Alerts are POSTed here as JSON when set.
    public var webhookURL: String?
    /// Remote timestamps further ahead than this are refused.
    public var maxClockOffsetMilliseconds: UInt64

    public init(
        warehouse: String, name: String, listen: String, url: String, webhookURL: String? = nil,
        maxClockOffsetMilliseconds: UInt64 = 60_000
    ) {
        version = Self.currentVersion
        self.warehouse = warehouse
        self.name = name
        self.listen = listen
        self.url = url
        self.webhookURL = webhookURL
        self.maxClockOffsetMilliseconds = maxClockOffsetMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case version, warehouse, name, listen, url
        case webhookURL = "webhook_url"
        case maxClockOffsetMilliseconds = "max_clock_offset_ms"
    }

    /// The listen address split into host and port.
    ///
    /// - Throws: `NodeError.badConfig` when it is not `HOST:PORT` with a port in 0...65535.
    public func listenAddress() throws(NodeError) -> (host: String, port: Int) {
        try Self.parseHostPort(listen)
    }

    public static func parseHostPort(_ text: String) throws(NodeError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port)
        else { throw .badConfig("listen address must be HOST:PORT, got \(text.debugDescription)") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .badConfig("listen address must name a host, got \(text.debugDescription)") }
        return (host, port)
    }

    public func replicaID() throws(NodeError) -> ReplicaID {
        do { return try ReplicaID(warehouse) } catch { throw .badConfig("warehouse id: \(error)") }
    }
}
