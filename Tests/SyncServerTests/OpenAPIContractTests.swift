import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
import SyncServer
import Testing

/// `docs/openapi.yaml` documents exactly the routes `buildRouter(node:)` registers: no more, no fewer.
@Suite("OpenAPI document matches the router", .timeLimit(.minutes(3)))
struct OpenAPIContractTests {
    /// One documented or registered operation, e.g. `GET /v1/products/{sku}`.
    struct Operation: Hashable, Comparable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method) \(path)" }
        static func < (lhs: Operation, rhs: Operation) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.yaml")

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The operations of an OpenAPI document written in the house layout: `paths:` at column 0, each path at two
    /// spaces, each method at four. Needs no YAML library.
    static func documentedOperations(_ yaml: String) -> [Operation] {
        var operations: [Operation] = []
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths, !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            if !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), let path {
                let key = String(line.dropFirst(4).dropLast())
                if methods.contains(key) { operations.append(Operation(method: key.uppercased(), path: path)) }
            }
        }
        return operations
    }

    /// The operations the router registers. Hummingbird renders a capture as `{name}`, as OpenAPI does.
    static func routedOperations(_ router: Router<InvRequestContext>) -> [Operation] {
        router.routes.map { Operation(method: $0.method.rawValue, path: $0.path.description) }
    }

    /// Each documented operation's text (its lines up to the next operation or path).
    static func operationBlocks(_ yaml: String) -> [Operation: String] {
        var blocks: [Operation: String] = [:]
        var inPaths = false
        var path = ""
        var current: Operation?
        for line in yaml.split(separator: "\n").map(String.init) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
                current = nil
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let key = String(line.dropFirst(4).dropLast())
                current = methods.contains(key) ? Operation(method: key.uppercased(), path: path) : nil
            }
            if let current { blocks[current, default: ""] += line + "\n" }
        }
        return blocks
    }

    /// The least role each documented operation names (`Role: admin` / `staff` / `reporter`).
    static func documentedRoles(_ yaml: String) -> [Operation: TokenRecord.Role] {
        operationBlocks(yaml).compactMapValues { block in
            TokenRecord.Role.allCases.first { block.contains("Role: \($0.rawValue)") }
        }
    }

    @Test func parserReadsTheHouseLayout() {
        let yaml = """
            openapi: 3.1.0
            paths:
              /v1/a/{id}:
                get:
                  parameters:
                    - name: id
                delete:
                  description: |
                    get:
              /v1/b:
                post:
                  responses: {}
            components:
              schemas:
                get: {}
            """
        #expect(Self.documentedOperations(yaml) == [
            Operation(method: "GET", path: "/v1/a/{id}"), Operation(method: "DELETE", path: "/v1/a/{id}"),
            Operation(method: "POST", path: "/v1/b"),
        ])
    }

    @Test func documentAndRouterListTheSameOperations() async throws {
        let yaml = try String(contentsOf: Self.documentURL, encoding: .utf8)
        let documented = Self.documentedOperations(yaml)
        #expect(Set(documented).count == documented.count, "an operation is documented twice")

        let routed = try await NodeFixture.with { fixture in Self.routedOperations(buildRouter(node: fixture.node)) }
        #expect(Set(routed).count == routed.count, "a route is registered twice")
        #expect(routed.count >= 19, "the router lists fewer routes than expected: \(routed.sorted())")

        let undocumented = Set(routed).subtracting(documented).sorted()
        let unrouted = Set(documented).subtracting(routed).sorted()
        #expect(undocumented.isEmpty, "routes missing from docs/openapi.yaml: \(undocumented)")
        #expect(unrouted.isEmpty, "documented operations no route serves: \(unrouted)")
        // Everything is versioned under /v1 except the Prometheus scrape path, whose name is a convention.
        #expect(routed.allSatisfy { $0.path.hasPrefix("/v1/") || $0.path == "/metrics" })
        #expect(routed.contains(Operation(method: "GET", path: "/metrics")))
    }

    @Test func extraRoutesAreNotPartOfTheDocument() async throws {
        let routed = try await NodeFixture.with { fixture in
            Self.routedOperations(buildRouter(node: fixture.node) { group in group.get("noop") { _, _ in "" } })
        }
        #expect(routed.contains(Operation(method: "GET", path: "/v1/noop")))
    }

    @Test func everyOperationNamesItsRoleAndItsErrors() throws {
        let yaml = try String(contentsOf: Self.documentURL, encoding: .utf8)
        #expect(yaml.hasPrefix("openapi: 3.1"))
        #expect(yaml.contains("    bearerAuth:\n      type: http\n      scheme: bearer\n"))
        #expect(yaml.contains("\nsecurity:\n  - bearerAuth: []\n"))
        let blocks = Self.operationBlocks(yaml)
        let roles = Self.documentedRoles(yaml)
        #expect(blocks.count == Self.documentedOperations(yaml).count)
        for (operation, block) in blocks {
            #expect(roles[operation] != nil, "\(operation) names no role")
            #expect(block.contains("\"401\":"), "\(operation) documents no 401")
            if roles[operation] != .reporter { #expect(block.contains("\"403\":"), "\(operation) documents no 403") }
            if block.contains("requestBody:") {
                for status in ["400", "413", "422"] {
                    #expect(block.contains("\"\(status)\":"), "\(operation) takes a body but documents no \(status)")
                }
            }
        }
        for code in ["bad_request", "unauthorized", "forbidden", "not_found", "unknown_sku", "unknown_transfer",
                     "unknown_token", "product_exists", "product_deleted", "insufficient_stock", "not_destination",
                     "over_accept", "idempotency_conflict", "own_token", "body_too_large", "invalid_input",
                     "invalid_quantity"] {
            #expect(yaml.contains("`\(code)`"), "error code \(code) is not documented")
        }
    }

    /// The role each operation documents is the one its handler enforces: one role weaker gets 403, the documented
    /// role gets past authorisation (whatever else the empty request then fails on), and no token gets 401.
    @Test func documentedRolesAreTheEnforcedRoles() async throws {
        let yaml = try String(contentsOf: Self.documentURL, encoding: .utf8)
        let roles = Self.documentedRoles(yaml)
        try await NodeFixture.with { fixture in
            let token: [TokenRecord.Role: String] = [.admin: fixture.admin, .staff: fixture.staff, .reporter: fixture.reporter]
            let weaker: [TokenRecord.Role: TokenRecord.Role] = [.admin: .staff, .staff: .reporter]
            let before = try fixture.snapshot()
            let app = Application(router: buildRouter(node: fixture.node))
            try await app.test(.router) { client in
                for (operation, role) in roles.sorted(by: { $0.key < $1.key }) {
                    let uri = operation.path
                        .replacingOccurrences(of: "{sku}", with: "NO-SUCH-SKU")
                        .replacingOccurrences(of: "{warehouse}", with: "SEV")
                        .replacingOccurrences(of: "{id}", with: "00000000-0000-4000-8000-000000000000")
                    let method = HTTPRequest.Method(operation.method)!
                    let anonymous = try await client.send(method, uri, token: nil)
                    #expect(anonymous.status == .unauthorized, "\(operation) without a token")
                    if let weaker = weaker[role] {
                        let refused = try await client.send(method, uri, token: token[weaker])
                        #expect(refused.status == .forbidden, "\(operation) with a \(weaker) token: \(refused.status)")
                    }
                    // The event stream never ends: the router test client cannot read it (see the live SSE test).
                    guard operation.path != "/v1/events" else { continue }
                    let allowed = try await client.send(method, uri, token: token[role])
                    #expect(![.unauthorized, .forbidden].contains(allowed.status), "\(operation) with a \(role) token: \(allowed.status)")
                    #expect(allowed.status != .internalServerError, "\(operation) with a \(role) token: \(allowed.text)")
                }
            }
            #expect(try fixture.snapshot() == before)
        }
    }
}
