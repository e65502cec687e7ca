import Crypto
import Foundation
import Store
import Synchronization

/// Issues and checks the node's bearer tokens.
///
/// A token reads `inv_<id>_<secret>`; the node keeps only the SHA-256 of the secret, and compares hashes in
/// constant time. Tokens are cached in memory (refreshed after every change) so checking one costs no I/O.
/// Secrets never appear in logs: only token ids do.
///
/// Rotation gives a token a new secret under the same id and role. The old secret stops at once, or, with a grace
/// period, at the instant it ends, judged by the injected clock at each request (no background task needed).
public final class TokenAuthority: Sendable {
    /// Who made a request.
    public struct Identity: Hashable, Sendable {
        public var tokenID: String
        public var name: String
        public var role: TokenRecord.Role
    }

    private let store: NodeStore
    private let cache = Mutex<[String: TokenRecord]>([:])
    private let throttle: Mutex<AuthThrottle>
    /// Milliseconds since 1970; judges grace periods.
    private let clock: @Sendable () -> Int64

    /// - Parameters:
    ///   - clock: the current time in milliseconds since 1970 (the system clock unless a test injects one).
    ///   - throttling: when failed checks are answered 429 (``AuthThrottle``).
    public init(
        store: NodeStore, clock: @escaping @Sendable () -> Int64 = { Int64(SystemClock().nowMilliseconds()) },
        throttling: AuthThrottle.Policy = AuthThrottle.Policy()
    ) throws {
        self.store = store
        self.clock = clock
        throttle = Mutex(AuthThrottle(policy: throttling))
        try reload()
    }

    /// Re-reads the tokens table.
    public func reload() throws {
        let tokens = try store.reader.tokens()
        cache.withLock { cache in
            cache = Dictionary(uniqueKeysWithValues: tokens.map { ($0.id, $0) })
        }
    }

    /// Creates a token and returns it with its secret, which is shown this once.
    public func create(name: String, role: TokenRecord.Role, nowMilliseconds: Int64) async throws(StoreError) -> (TokenRecord, secret: String) {
        let id = Self.randomHex(bytes: 6)
        let secret = Self.randomHex(bytes: 24)
        let record = TokenRecord(id: id, name: name, role: role, secretHash: Self.hash(secret), createdAt: nowMilliseconds)
        guard case .token(let stored) = try await store.submit(.createToken(record)) else { throw .storage("unexpected outcome") }
        do { try reload() } catch { throw .storage("\(error)") }
        return (stored, "inv_\(id)_\(secret)")
    }

    public func revoke(id: String, nowMilliseconds: Int64) async throws(StoreError) -> TokenRecord {
        guard case .token(let stored) = try await store.submit(.revokeToken(id: id, atMilliseconds: nowMilliseconds)) else {
            throw .storage("unexpected outcome")
        }
        do { try reload() } catch { throw .storage("\(error)") }
        return stored
    }

    /// Gives token `id` a new secret, returned this once; the role, name and id stay.
    ///
    /// - Parameters:
    ///   - graceMilliseconds: how long the old secret keeps working; `nil` or 0 ends it at once.
    /// - Throws: `StoreError.unknownToken`, `StoreError.tokenRevoked`, `StoreError.invalidInput` for a negative grace.
    public func rotate(
        id: String, graceMilliseconds: Int64?, nowMilliseconds: Int64
    ) async throws(StoreError) -> (TokenRecord, secret: String) {
        let grace = graceMilliseconds ?? 0
        guard grace >= 0 else { throw .invalidInput("the grace period cannot be negative") }
        let secret = Self.randomHex(bytes: 24)
        let outcome = try await store.submit(.rotateToken(
            id: id, secretHash: Self.hash(secret), atMilliseconds: nowMilliseconds,
            previousValidUntilMilliseconds: grace > 0 ? nowMilliseconds + grace : nil))
        guard case .token(let stored) = outcome else { throw .storage("unexpected outcome") }
        do { try reload() } catch { throw .storage("\(error)") }
        return (stored, "inv_\(id)_\(secret)")
    }

    /// The identity a bearer token stands for, or `nil` when it is unknown, malformed or revoked, or carries a
    /// secret replaced by a rotation whose grace period is over.
    public func authenticate(_ token: String) -> Identity? {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "inv" else { return nil }
        let id = String(parts[1])
        guard let record = cache.withLock({ $0[id] }), record.revokedAt == nil else { return nil }
        let presented = Self.hash(String(parts[2]))
        var matches = Self.constantTimeEqual(presented, record.secretHash)
        if let previous = record.previousSecretHash, let expiry = record.previousExpiresAt {
            // Both hashes are always compared, so timing tells nothing about which one matched.
            let previousMatches = Self.constantTimeEqual(presented, previous)
            matches = matches || (previousMatches && clock() < expiry)
        }
        guard matches else { return nil }
        return Identity(tokenID: record.id, name: record.name, role: record.role)
    }

    /// What a token check answers.
    public enum Check: Sendable {
        case identity(Identity)
        /// 401. `tokenID` is the id the token named, if it was well formed (never the secret).
        case unauthorized(tokenID: String?, failures: Int, throttlingStarted: [AuthThrottle.Key])
        /// 429 for `retryAfter` seconds.
        case throttled(tokenID: String?, retryAfter: Int64)
    }

    /// Checks a bearer token presented from `address`, counting a failure against the address and the token id.
    public func check(_ token: String, from address: String) -> Check {
        if let identity = authenticate(token) { return .identity(identity) }
        let tokenID = Self.tokenID(of: token)
        let now = clock()
        switch throttle.withLock({ $0.fail(address: address, tokenID: tokenID, now: now) }) {
        case let .unauthorized(failures, started): return .unauthorized(tokenID: tokenID, failures: failures, throttlingStarted: started)
        case let .throttled(retryAfter): return .throttled(tokenID: tokenID, retryAfter: retryAfter)
        }
    }

    /// The id of an `inv_<id>_<secret>` token when it looks like one this node issues (12 lowercase hex digits), so
    /// that nothing else a client sends (a pasted secret, say) reaches a log or the throttle's memory.
    static func tokenID(of token: String) -> String? {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "inv", parts[1].utf8.count == 12,
              parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return String(parts[1])
    }

    static func hash(_ secret: String) -> String {
        hex(SHA256.hash(data: Data(secret.utf8)))
    }

    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return hex((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Lowercase hex, without `String(format:)` (which cost more than the hash itself on every request).
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
