// A child process for the crash-safety test: writes receipts through the ZMQ queue as fast as it can and prints
// "ACK <movement id> <quantity>" for each acknowledged write, until it is killed.
//
// Usage: CrashWriter DATABASE_PATH REPLICA IPC_ENDPOINT
import CRDT
import Foundation
import Store

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: CrashWriter DATABASE_PATH REPLICA IPC_ENDPOINT\n".utf8))
    exit(2)
}
let replica = try ReplicaID(arguments[2])
var options = NodeStore.Options(ipcEndpoint: arguments[3])
options.durable = true
let store = try NodeStore(path: arguments[1], replica: replica, options: options)
let sku = try SKU("CRASH-1")
// A restarted writer keeps using the product it created in its first life.
if try store.reader.product(sku) == nil {
    _ = try await store.submit(.createProduct(ProductDraft(sku: sku, name: "Crash test"), actor: "crash"))
}
/// One unbuffered write(2) per line: lines shorter than PIPE_BUF never interleave, and nothing waits in a buffer
/// when the process is killed.
func emit(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(0x0A)
    _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}
func acknowledge(_ id: String, _ quantity: Int64) { emit("ACK \(id) \(quantity)") }
emit("READY")
// 8 submitters with several writes in flight each, so batches form and are killed mid-commit.
await withTaskGroup(of: Void.self) { group in
    for submitter in 0..<8 {
        group.addTask {
            var round: Int64 = 0
            while true {
                round += 1
                await withTaskGroup(of: Void.self) { inner in
                    for slot in 0..<16 {
                        let quantity = Int64(1 + (submitter * 16 + slot) % 9)
                        inner.addTask {
                            let id = MovementID.generate()
                            let request = MovementRequest(type: .receive, sku: sku, quantity: quantity, id: id, actor: "crash")
                            do {
                                _ = try await store.submit(.movement(request))
                                acknowledge(id, quantity)
                            } catch {
                                FileHandle.standardError.write(Data("write failed: \(error)\n".utf8))
                            }
                        }
                    }
                }
            }
        }
    }
}
