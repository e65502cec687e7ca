import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncServer

/// The part of a node's `GET /v1/status` the benchmarks read.
struct NodeStatus: Decodable {
    var version_vector: [String: UInt64]
    var peers: [PeerSyncer.PeerStatus]
    var history_index_backlog: Int?

    /// Polls `url`'s status every 100 ms until `done` accepts it (a node not yet up counts as not done).
    ///
    /// - Throws: `ValidationError` when `timeout` seconds pass first.
    static func wait(
        client: HTTPClient, url: String, token: String, timeout: Double = 900, until done: (NodeStatus) -> Bool
    ) async throws -> NodeStatus {
        let deadline = now() + timeout
        while now() < deadline {
            // Nil: not up yet.
            if let status = await fetch(client: client, url: url, token: token), done(status) { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("timed out after \(Int(timeout)) s waiting for \(url)")
    }

    /// The node's status, or nil when it does not answer 200 with a status (not up, or not yet listening).
    static func fetch(client: HTTPClient, url: String, token: String) async -> NodeStatus? {
        var request = HTTPClientRequest(url: url + "/v1/status")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 4 << 20)
            guard response.status == .ok else { return nil }
            return try JSONDecoder().decode(NodeStatus.self, from: Data(body.readableBytesView))
        } catch {
            return nil
        }
    }
}
