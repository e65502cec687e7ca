import Foundation
import Store

/// The files of a node's data directory (mode 0700).
///
/// ```
/// DIR/config.json      NodeConfig
/// DIR/inv.sqlite       the database (+ -wal, -shm)
/// DIR/writer.ipc       the write queue's ipc:// endpoint, while serving
/// DIR/admin.token      the admin token, readable by the owner only (0600)
/// DIR/tls/             ca.pem, node.pem, node-key.pem (and ca-key.pem on the node that created the cluster)
/// ```
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = (path as NSString).standardizingPath
    }

    public var configFile: String { path + "/config.json" }
    public var databaseFile: String { path + "/inv.sqlite" }
    public var adminTokenFile: String { path + "/admin.token" }
    public var tlsDirectory: String { path + "/tls" }
    public var lockFile: String { path + "/inv.lock" }
    public var writerEndpoint: String { "ipc://" + path + "/writer.ipc" }

    public var exists: Bool { FileManager.default.fileExists(atPath: configFile) }

    /// Whether an `inv serve` process holds this directory now (it keeps `inv.lock` locked while it runs).
    public var isServing: Bool {
        let descriptor = open(lockFile, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
        flock(descriptor, LOCK_UN)
        return false
    }

    /// Reads and checks `config.json`.
    public func loadConfig() throws(NodeError) -> NodeConfig {
        guard FileManager.default.fileExists(atPath: path) else { throw .missingDataDirectory(path) }
        guard let data = FileManager.default.contents(atPath: configFile) else {
            throw .damagedDataDirectory("\(configFile) is missing or unreadable")
        }
        let config: NodeConfig
        do { config = try JSONDecoder().decode(NodeConfig.self, from: data) } catch {
            throw .badConfig("\(configFile) is not a valid node config: \(Self.describe(error))")
        }
        guard config.version == NodeConfig.currentVersion else {
            throw .badConfig("\(configFile) has version \(config.version); this inv understands \(NodeConfig.currentVersion)")
        }
        _ = try config.replicaID()
        _ = try config.listenAddress()
        return config
    }

    public func saveConfig(_ config: NodeConfig) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.write(try encoder.encode(config), to: configFile)
    }

    /// Writes `admin.token` (0600), replacing any previous one atomically.
    public func writeAdminToken(_ token: String) throws {
        try Self.write(Data((token + "\n").utf8), to: adminTokenFile)
    }

    public func readAdminToken() -> String? {
        FileManager.default.contents(atPath: adminTokenFile).map {
            String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing key \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: "\(error)"
        }
    }
}

extension DataDirectory {
    /// Writes an owner-only (0600) file of the data directory, or a join bundle, atomically and durably
    /// (`DurableFile.write`): the file is the old contents or the new, never a mix, and never readable by others.
    /// Replacing `admin.token` after a rotation relies on this.
    static func write(_ data: Data, to path: String) throws {
        do { try DurableFile.write(Array(data), to: path, mode: 0o600, replacing: true) } catch {
            throw NodeError.other("cannot write \(path): \(error)")
        }
    }
}
