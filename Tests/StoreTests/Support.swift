import CRDT
import Foundation
import Store

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("inv-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

func rid(_ raw: String) -> ReplicaID { try! ReplicaID(raw) }
func sku(_ raw: String) -> SKU { try! SKU(raw) }

/// Opens a node store in a temporary directory; the caller closes it and removes the directory.
func openStore(_ name: String = "MAD", in directory: TemporaryDirectory, ipc: Bool = false) throws -> NodeStore {
    var options = NodeStore.Options()
    if ipc { options.ipcEndpoint = "ipc://" + directory.file("writer.ipc") }
    return try NodeStore(path: directory.file("\(name).sqlite"), replica: rid(name), options: options)
}

extension NodeStore {
    @discardableResult
    func addProduct(_ code: String, name: String = "Widget", reorderPoint: Int64? = nil) async throws -> ProductState {
        let outcome = try await submit(.createProduct(ProductDraft(sku: sku(code), name: name, reorderPoint: reorderPoint), actor: "tester"))
        guard case .product(let state) = outcome else { throw StoreError.storage("unexpected outcome \(outcome)") }
        return state
    }

    @discardableResult
    func move(
        _ type: MovementType, _ code: String, _ quantity: Int64, to: String? = nil, reason: String? = nil,
        id: String = MovementID.generate()
    ) async throws(StoreError) -> (MovementRecord, duplicate: Bool) {
        let outcome = try await submit(.movement(MovementRequest(
            type: type, sku: sku(code), quantity: quantity, to: to.map { rid($0) }, reason: reason, id: id, actor: "tester")))
        guard case let .movement(record, duplicate) = outcome else { throw .storage("unexpected outcome \(outcome)") }
        return (record, duplicate)
    }

    /// Makes `warehouse` a member this node knows (a transfer may only go to one).
    func addMember(_ warehouse: String, retired: Bool = false) async throws {
        _ = try await submit(.setMember(warehouse: warehouse, peerURL: "https://\(warehouse.lowercased()).example:8443", retired: retired))
    }

    func onHand(_ code: String) throws -> Int64 {
        try reader.stock(warehouse: replica.rawValue, sku: code).first?.quantity ?? 0
    }
}

/// Runs `body` with a store, closing it and removing its directory afterwards.
func withStore<T>(_ name: String = "MAD", _ body: (NodeStore, TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory()
    let store = try openStore(name, in: directory)
    defer {
        store.close()
        directory.cleanup()
    }
    return try await body(store, directory)
}
