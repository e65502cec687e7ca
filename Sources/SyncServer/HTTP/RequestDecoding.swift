import Foundation
import Hummingbird
import Store

extension Request {
    /// Collects the body (at most `limit`, by default the context's upload limit: 413 beyond) and decodes it as JSON.
    ///
    /// - Throws: `APIError` 400 for malformed JSON, invalid UTF-8, a key written twice in one object
    ///   (``JSONDuplicateKeys``) or wrong types; 413 for an oversized body.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: InvRequestContext, limit: Int? = nil) async throws -> T {
        var request = self
        let buffer = try await request.collectBody(upTo: limit ?? context.maxUploadSize)
        let bytes = Array(buffer.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else { throw APIError.badRequest("request body is not valid UTF-8") }
        if let key = JSONDuplicateKeys.first(in: bytes) {
            throw APIError.badRequest("the key \(String(key.prefix(64)).debugDescription) appears twice in one JSON object")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch { throw APIError(decoding: error) }
    }
}

/// Query-string and path helpers.
extension Request {
    func query(_ name: String) -> String? { uri.queryParameters.get(name) }

    func queryInt(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let raw = query(name) else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw APIError(.unprocessableContent, "invalid_input", "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A date query parameter: `YYYY-MM-DD` (UTC midnight) or an ISO 8601 date-time, as milliseconds since 1970.
    func queryDate(_ name: String) throws -> UInt64? {
        guard let raw = query(name) else { return nil }
        guard let milliseconds = DateParsing.milliseconds(raw) else {
            throw APIError(.unprocessableContent, "invalid_input", "\(name) must be a date like 2026-01-31 or 2026-01-31T12:00:00Z")
        }
        return milliseconds
    }
}

/// Parses the dates people type.
public enum DateParsing {
    public static func milliseconds(_ text: String) -> UInt64? {
        let attempts: [(String, Date.ISO8601FormatStyle)] = [
            (text, Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            (text, Date.ISO8601FormatStyle()),
            (text + "T00:00:00Z", Date.ISO8601FormatStyle()),
        ]
        for (candidate, style) in attempts {
            do { return clamp(try Date(candidate, strategy: style)) } catch { continue }
        }
        return nil
    }

    private static func clamp(_ date: Date) -> UInt64? {
        // Rounded, not truncated: `.843` seconds is 842.999… milliseconds in binary floating point, and a time the
        // API wrote (`2026-11-23T22:49:07.843Z`) must parse back to the millisecond it names.
        let milliseconds = (date.timeIntervalSince1970 * 1_000).rounded()
        guard milliseconds >= 0, milliseconds < 1e15 else { return nil }
        return UInt64(milliseconds)
    }
}

extension Parameters {
    func sku(_ name: String = "sku") throws -> SKU {
        guard let raw = get(name) else { throw APIError.badRequest("missing \(name)") }
        do { return try SKU(raw) } catch { throw APIError(error) }
    }
}
