import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import SyncServer

/// An HTTPS client of one node, verifying its certificate against the cluster CA only.
struct NodeClient {
    let target: ClientOptions.Target
    let http: HTTPClient

    /// Runs `body` with a client and always shuts the client down.
    static func with<T>(_ options: ClientOptions, _ body: (NodeClient) async throws -> T) async throws -> T {
        let target = try options.target()
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: try configuration(trusting: target.caFile))
        let client = NodeClient(target: target, http: http)
        do {
            let result = try await body(client)
            try await http.shutdown()
            return result
        } catch {
            do { try await http.shutdown() } catch { /* the original error matters more */ }
            throw error
        }
    }

    /// How a command talks to its node: TLS 1.2 or later, verified against the cluster CA in `caFile` only.
    ///
    /// - Throws: `CLIError` when `caFile` holds no certificate.
    static func configuration(trusting caFile: String) throws -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        } catch {
            throw CLIError("cannot read the cluster CA certificate \(caFile): \(error)")
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        // One command, one node: a refused connection or a failed handshake is the answer, not something to retry
        // with backoff until the connect timeout (which made "node not running" take 5 seconds).
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders = [:]
        var body: Data
    }

    /// Sends a request and returns a 2xx reply; a non-2xx reply throws its API error message.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], json body: (any Encodable)? = nil) async throws -> Reply {
        var components = URLComponents()
        components.path = path
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        components.queryItems = items.isEmpty ? nil : items
        var request = HTTPClientRequest(url: target.url + (components.string ?? path))
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(target.token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(60))
        } catch {
            throw describe(error)
        }
        let data = Data(buffer: try await response.body.collect(upTo: 256 << 20))
        guard (200..<300).contains(response.status.code) else {
            let failure: API.ErrorBody
            do { failure = try JSONDecoder().decode(API.ErrorBody.self, from: data) } catch {
                throw CLIError("the node answered \(response.status.code) \(response.status.reasonPhrase)", status: Int(response.status.code))
            }
            throw CLIError(failure.error.message, status: Int(response.status.code), line: failure.error.line)
        }
        return Reply(status: Int(response.status.code), headers: response.headers, body: data)
    }

    /// Streams a response body to `handle`, chunk by chunk (event streams, CSV exports).
    func stream(_ path: String, query: [(String, String?)] = [], handle: (ByteBuffer) async throws -> Void) async throws {
        var components = URLComponents()
        components.path = path
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        components.queryItems = items.isEmpty ? nil : items
        var request = HTTPClientRequest(url: target.url + (components.string ?? path))
        request.headers.add(name: "Authorization", value: "Bearer \(target.token)")
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .hours(24 * 365))
        } catch {
            throw describe(error)
        }
        guard (200..<300).contains(response.status.code) else {
            _ = try await send(.GET, path, query: query)
            throw CLIError("the node answered \(response.status.code)")
        }
        for try await chunk in response.body { try await handle(chunk) }
    }

    func decode<T: Decodable>(_ type: T.Type, _ reply: Reply) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: reply.body) } catch {
            throw CLIError("unexpected answer from the node: \(error)")
        }
    }

    /// Turns transport failures into the one line a person needs.
    private func describe(_ error: any Error) -> CLIError {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("connectTimeout")
            || (error as? HTTPClientError) == .connectTimeout
        {
            guard let dataPath = target.dataPath else {
                return CLIError("node not running at \(target.url); start it there with `inv serve`")
            }
            return CLIError("node not running at \(target.url); start it with `inv serve --data \(dataPath)`")
        }
        if let failure = TLSFailure(error) {
            return CLIError(failure.message(url: target.url, caFile: target.caFile))
        }
        return CLIError("cannot reach \(target.url): \(text)")
    }
}
