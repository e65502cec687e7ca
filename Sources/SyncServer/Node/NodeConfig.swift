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
    /// The URL clients use to reach this node's API.
    public var url: String
    /// Where the peer-sync listener (mutual TLS only) listens, `HOST:PORT`; by default the API port + 1.
    public var peerListen: String?
    /// The URL peers use to reach the sync listener.
    public var peerURL: String?
    /// Seconds between background anti-entropy rounds with each peer.
    public var antiEntropySeconds: Double?
    /// Alerts are POSTed here as JSON when set.
    public var webhookURL: String?
    /// Remote timestamps further ahead than this are refused.
    public var maxClockOffsetMilliseconds: UInt64
    /// Failed token checks within a minute, from one client address or for one token id, after which further
    /// failures answer 429 (see `AuthThrottle`); 10 when absent.
    public var failedTokenChecksPerMinute: Int?

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
        case peerListen = "peer_listen"
        case peerURL = "peer_url"
        case antiEntropySeconds = "anti_entropy_seconds"
        case failedTokenChecksPerMinute = "failed_token_checks_per_minute"
    }

    /// The peer listener's address: `peer_listen`, else the API's host with the next port.
    public func peerListenAddress() throws(NodeError) -> (host: String, port: Int) {
        if let peerListen { return try Self.parseHostPort(peerListen) }
        let (host, port) = try listenAddress()
        return (host, port == 0 ? 0 : port + 1)
    }

    /// The URL peers dial for this node's sync listener.
    public func effectivePeerURL() throws(NodeError) -> String {
        if let peerURL { return peerURL }
        let (host, port) = try peerListenAddress()
        return "https://\(Self.urlHost(host)):\(port)"
    }

    /// How a URL names a listen host: a wildcard address becomes 127.0.0.1, an IPv6 address is bracketed.
    public static func urlHost(_ host: String) -> String {
        ["0.0.0.0", "::"].contains(host) ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
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
