import CRDT
import Foundation
import NIOCore
@testable import Store
import SyncServer
import Testing

/// A bounded, seeded generator fuzz of the decoders that read a peer's bytes: the operation page (deflate, then
/// ``LedgerOperationCodec``) and the ledger row body. Inputs are random bytes, and valid encodings with bytes
/// changed, inserted, removed, cut, or overwritten by extreme varints. A decoder may refuse any of them with an
/// error; it may never crash, and what it accepts must be operations a ledger can hold, which encode and decode
/// back to themselves. Bounded by counts (a few seconds in CI); the seed is printed first, so that even a crash
/// can be replayed with `INV_TEST_SEED`.
@Suite("Decoder fuzz: random and mutated pages and row bodies are refused or decoded, never a crash")
struct DecoderFuzzTests {
    /// Varints a hostile peer would try: 0, 2^63-1, 2^63, 2^64-1 and an over-long one.
    static let extremeVarints: [[UInt8]] = [
        [0x00], [0x7F], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
    ]

    /// One random change of `bytes`.
    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 1 where !bytes.isEmpty: bytes[position] ^= 1 << UInt8.random(in: 0...7, using: &random)
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
            case 3 where !bytes.isEmpty: bytes.remove(at: position)
            case 4: bytes = Array(bytes.prefix(position))
            default: bytes.replaceSubrange(position..<min(position + 2, bytes.count), with: extremeVarints.randomElement(using: &random)!)
            }
        }
        return bytes
    }

    static func random(_ count: Int, _ random: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    @Test("operation batches and pages: random bytes and mutations of valid ones")
    func pages() async throws {
        let seed = SplitMix64.testSeed()
        print("DecoderFuzzTests.pages seed \(seed) (replay with INV_TEST_SEED=\(seed))")
        var random = SplitMix64(seed: seed)
        var decoded = 0
        for round in 0..<4_000 {
            // CPU-bound on a pool of one thread per core: let the other suites' tasks run between rounds.
            if round % 20 == 0 { await Task.yield() }
            let input: [UInt8]
            switch round % 4 {
            case 0: input = [LedgerOperationCodec.version] + Self.random(Int.random(in: 0...256, using: &random), &random)
            default:
                let operations = OperationGenerator.operations(count: Int.random(in: 1...8, using: &random), using: &random)
                input = Self.mutate(try LedgerOperationCodec.encode(operations), &random)
            }
            let operations: [LedgerOperation]
            do { operations = try LedgerOperationCodec.decode(input) } catch { continue }
            decoded += 1
            for op in operations {
                #expect((1...LedgerOperation.maxSequence).contains(op.sequence), "seed \(seed), round \(round)")
                #expect(op.timestamp.rawValue <= LedgerOperation.maxTimestamp, "seed \(seed), round \(round)")
            }
            #expect(try LedgerOperationCodec.decode(try LedgerOperationCodec.encode(operations)) == operations, "seed \(seed), round \(round)")
            // The same bytes as a page on the wire (stored deflate blocks): the same outcome.
            #expect(try OperationPage.decode(Deflate.stored(input)) == operations, "seed \(seed), round \(round)")
        }
        #expect(decoded > 0, "seed \(seed): no mutation decoded at all; the fuzz tests nothing but refusals")
        // Compressed pages with bytes changed: refused or decoded, never a crash.
        for round in 0..<500 {
            if round % 20 == 0 { await Task.yield() }
            let operations = OperationGenerator.operations(count: Int.random(in: 1...8, using: &random), using: &random)
            let page = Self.mutate(Array(try OperationPage.encode(operations).readableBytesView), &random)
            do { _ = try OperationPage.decode(ByteBuffer(bytes: page)) } catch is OperationPage.Failure { continue } catch {
                Issue.record("seed \(seed), compressed round \(round): not an OperationPage.Failure: \(error)")
            }
        }
    }

    @Test("ledger row bodies: random bytes and mutations of valid ones")
    func rowBodies() async throws {
        let seed = SplitMix64.testSeed()
        print("DecoderFuzzTests.rowBodies seed \(seed) (replay with INV_TEST_SEED=\(seed))")
        var random = SplitMix64(seed: seed)
        let origin = try ReplicaID("MAD")
        var decoded = 0
        for round in 0..<4_000 {
            if round % 20 == 0 { await Task.yield() }
            let body: [UInt8]
            if round % 4 == 0 {
                body = [LedgerRowBody.version] + Self.random(Int.random(in: 0...128, using: &random), &random)
            } else {
                let op = OperationGenerator.operations(count: 1, using: &random)[0]
                body = Self.mutate(try LedgerRowBody.encode(op), &random)
            }
            guard let op = try? LedgerRowBody.decode(origin: origin, sequence: 1, body: body) else { continue }
            decoded += 1
            #expect(try LedgerRowBody.decode(origin: origin, sequence: 1, body: try LedgerRowBody.encode(op)) == op, "seed \(seed), round \(round)")
        }
        #expect(decoded > 0, "seed \(seed): no mutation decoded at all")
    }
}
