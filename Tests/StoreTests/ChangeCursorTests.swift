import CRDT
import Foundation
import Store
import Testing

/// The change feed's cursor: a version vector in an opaque, versioned, canonical token.
@Suite("Change cursor encoding")
struct ChangeCursorTests {
    static func randomCursor(_ generator: inout some RandomNumberGenerator) throws -> ChangeCursor {
        var cursor = ChangeCursor()
        for index in 0..<Int.random(in: 0...6, using: &generator) {
            let sequence: UInt64 = [1, 127, 128, 16_384, UInt64(Int64.max), UInt64.random(in: 1...1_000_000, using: &generator)]
                .randomElement(using: &generator) ?? 1
            cursor.advance(try ReplicaID("W\(index)-\(Int.random(in: 0...99, using: &generator))"), to: sequence)
        }
        return cursor
    }

    @Test func roundTripsAndIsURLSafe() throws {
        var generator = SystemRandomNumberGenerator()
        #expect(ChangeCursor(token: ChangeCursor().token) == ChangeCursor())
        for _ in 0..<200 {
            let cursor = try Self.randomCursor(&generator)
            let token = cursor.token
            #expect(ChangeCursor(token: token) == cursor, "\(token)")
            #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "\(token)")
        }
    }

    @Test func refusesEveryTruncationAndSurvivesEveryChange() throws {
        var cursor = ChangeCursor()
        cursor.advance(try ReplicaID("MAD"), to: 300)
        cursor.advance(try ReplicaID("SEV"), to: 1)
        cursor.advance(try ReplicaID("BIO"), to: UInt64(Int64.max))
        let token = cursor.token
        for length in 0..<token.count {
            #expect(ChangeCursor(token: String(token.prefix(length))) == nil, "prefix \(length) of \(token)")
        }
        let characters = Array(token)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .")
        for index in characters.indices {
            for replacement in alphabet where replacement != characters[index] {
                var changed = characters
                changed[index] = replacement
                let text = String(changed)
                // A change gives another valid cursor or none, and an accepted token is the canonical one.
                if let parsed = ChangeCursor(token: text) { #expect(parsed.token == text) }
            }
        }
        #expect(ChangeCursor(token: token + "A") == nil)
        #expect(ChangeCursor(token: token + "=") == nil)
    }

    @Test func refusesOtherVersionsOrderAndValues() throws {
        func token(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        #expect(ChangeCursor(token: token([1, 1, 1, 65, 5])) != nil)  // {A: 5}
        #expect(ChangeCursor(token: token([2, 1, 1, 65, 5])) == nil)  // version 2
        #expect(ChangeCursor(token: token([0, 0])) == nil)
        #expect(ChangeCursor(token: token([1, 1, 1, 65, 0])) == nil)  // sequence 0
        #expect(ChangeCursor(token: token([1, 2, 1, 66, 5, 1, 65, 5])) == nil)  // B before A
        #expect(ChangeCursor(token: token([1, 2, 1, 65, 5, 1, 65, 6])) == nil)  // A twice
        #expect(ChangeCursor(token: token([1, 1, 1, 0x21, 5])) == nil)  // "!" is no replica id
        #expect(ChangeCursor(token: token([1, 1, 1, 65] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])) == nil)  // 2^64-1
        #expect(ChangeCursor(token: token([1, 1, 1, 65] + [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])) == nil)
        #expect(ChangeCursor(token: token([1, 200, 1, 65, 5])) == nil)  // count beyond the bytes
        #expect(ChangeCursor(token: token([1, 0])) == ChangeCursor())
        #expect(ChangeCursor(token: "") == nil)
    }
}
