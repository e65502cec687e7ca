import CoreMetrics
import CRDT
import Foundation
import Synchronization
@testable import Store
import Testing

@Suite("In-process writes: the writer resumes each waiting task itself")
struct InProcessWriteTests {
    @Test("closing the store under a stream of writes: each is answered, committed ones are kept, later ones refused",
          .timeLimit(.minutes(3)))
    func closeDuringWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try openStore(in: directory)
        try await store.addProduct("SKU-1")
        let acknowledgedSoFar = Tally()
        // Each worker writes until a write is refused (bounded: a store that never refused would end the loop).
        let outcomes = await withTaskGroup(of: (acknowledged: [String], refusal: StoreError?).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var acknowledged: [String] = []
                    for _ in 0..<5_000 {
                        let id = MovementID.generate()
                        do throws(StoreError) {
                            let record = try await store.move(.receive, "SKU-1", 1, id: id).0
                            #expect(record.id == id)
                            acknowledged.append(id)
                            acknowledgedSoFar.count.withLock { $0 += 1 }
                        } catch {
                            return (acknowledged, error)
                        }
                    }
                    return (acknowledged, nil)
                }
            }
            group.addTask {
                for _ in 0..<1_000 where acknowledgedSoFar.count.withLock({ $0 }) < 200 { try? await Task.sleep(for: .milliseconds(5)) }
                store.close()
                return ([], nil)
            }
            return await group.reduce(into: [(acknowledged: [String], refusal: StoreError?)]()) { $0.append($1) }
        }
        let workers = outcomes.filter { !$0.acknowledged.isEmpty || $0.refusal != nil }
        #expect(workers.count == 8)
        for worker in workers {
            guard case .unavailable = worker.refusal else {
                Issue.record("a worker ended with \(String(describing: worker.refusal)), not a refusal after close")
                continue
            }
        }
        let acknowledged = workers.flatMap(\.acknowledged)
        #expect(acknowledged.count >= 200)

        let reopened = try openStore(in: directory)
        defer { reopened.close() }
        for id in acknowledged { #expect(try reopened.reader.movement(id: id) != nil, "acknowledged \(id) is kept") }
        #expect(try reopened.onHand("SKU-1") >= Int64(acknowledged.count))
    }

    @Test("after close, a write is refused at once and changes nothing")
    func submitAfterClose() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try openStore(in: directory)
        try await store.addProduct("SKU-1")
        store.close()
        await #expect(throws: StoreError.self) { try await store.move(.receive, "SKU-1", 1) }
        let reopened = try openStore(in: directory)
        defer { reopened.close() }
        #expect(try reopened.onHand("SKU-1") == 0)
    }

    @Test("a prepared merge is taken only for this process's client: another process's request naming one is refused",
          .timeLimit(.minutes(1)))
    func preparedMergeOnlyInProcess() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try openStore(in: directory, ipc: true)
        defer { store.close() }
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, kind: .dealer)
        defer { socket.close() }
        try socket.connect("ipc://" + directory.file("writer.ipc"))
        _ = try socket.send([WriteWire.frame(1), [QueueCodec.preparedMerge]])
        var reply: [[UInt8]]?
        for _ in 0..<500 where reply == nil {
            reply = try socket.receive(blocking: false)
            if reply == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let frames = try #require(reply)
        #expect(frames.count == 2 && WriteWire.requestID(frames[0]) == 1)
        #expect(throws: StoreError.self) { try QueueCodec.decodeReply(frames[1]).get() }
        // The writer goes on: this process's writes are applied.
        try await store.addProduct("SKU-1")
        #expect(try store.reader.versionVector()[rid("MAD")] == 1)
    }

    @Test("pending replies: each request is answered once; unknown ids are ignored; nothing registers once closed")
    func pendingRepliesAnswerOnce() async throws {
        let replies = PendingReplies(depth: Meter(label: "test-depth"))
        let outcome = WriteOutcome.catchingUp(false)
        typealias Waiter = CheckedContinuation<Result<WriteOutcome, StoreError>, Never>
        let first = await withCheckedContinuation { (continuation: Waiter) in
            let registered = replies.register(1) { continuation.resume(returning: $0) }
            #expect(registered)
            replies.resume(1, with: .success(outcome))
            replies.resume(1, with: .failure(.storage("a second answer must be ignored")))
            replies.resume(99, with: .success(outcome))
        }
        let second = await withCheckedContinuation { (continuation: Waiter) in
            let registered = replies.register(2) { continuation.resume(returning: $0) }
            #expect(registered)
            replies.failAll(.unavailable("closed"))
        }
        #expect(try first.get() == outcome)
        #expect(throws: StoreError.unavailable("closed")) { try second.get() }
        let refused = await withCheckedContinuation { (continuation: Waiter) in
            let registered = replies.register(3) { continuation.resume(returning: $0) }
            if !registered { continuation.resume(returning: .failure(.unavailable("refused"))) }
        }
        #expect(throws: StoreError.unavailable("refused")) { try refused.get() }
    }
}

/// A count shared by concurrent tasks.
private final class Tally: Sendable {
    let count = Mutex(0)
}
