import CRDT
import Foundation
import PropertyBased
import Store
import Testing

/// The sequential model of product metadata: the winning write per field.
struct ProductModel: Equatable, Sendable {
    var name: Write<String>?
    var description: Write<String>?
    var price: Write<String?>?
    var reorderPoint: Write<Int64?>?
    var deleted: Write<Bool>?
    var barcodes: Write<[String]>?
}

enum ProductMetadataSubject: LawSubject {
    static var initialState: ProductMetadata { ProductMetadata() }
    static var initialModel: ProductModel { ProductModel() }

    static var operations: Generator<ProductPatch, AnySequence<Any>> {
        zip(
            Gen.int(in: 0...3).map { "name \($0)" }.optional(valueRate: 0.4),
            Gen.int(in: 0...3).map { "about \($0)" }.optional(valueRate: 0.3),
            Gen.int(in: 0...3).map { "\($0).50" }.optional(valueRate: 0.7).optional(valueRate: 0.4),
            Gen<Int64>.value(in: 0...20).optional(valueRate: 0.7).optional(valueRate: 0.3),
            zip(
                Gen.bool.optional(valueRate: 0.2),
                Gen.int(in: 0...3).map { count in (0..<count).map { "400638133393\($0)" } }.optional(valueRate: 0.3))
        )
        .map { name, description, price, reorderPoint, last in
            let (deleted, barcodes) = last
            return ProductPatch(
                name: name, description: description, price: price, reorderPoint: reorderPoint, deleted: deleted,
                barcodes: barcodes)
        }
        .eraseToAny()
    }

    static func apply(_ patch: ProductPatch, to state: inout ProductMetadata, context: OperationContext)
        -> ProductMetadata
    {
        state.apply(patch, at: context.timestamp, by: context.replica)
    }

    static func model(_ model: inout ProductModel, applying patch: ProductPatch, context: OperationContext) {
        if let value = patch.name { Write.record(Write(value, context), into: &model.name) }
        if let value = patch.description { Write.record(Write(value, context), into: &model.description) }
        if let value = patch.price { Write.record(Write(value, context), into: &model.price) }
        if let value = patch.reorderPoint { Write.record(Write(value, context), into: &model.reorderPoint) }
        if let value = patch.deleted { Write.record(Write(value, context), into: &model.deleted) }
        if let value = patch.barcodes { Write.record(Write(value, context), into: &model.barcodes) }
    }

    static func modelValue(of state: ProductMetadata) -> ProductModel {
        ProductModel(
            name: state.name.map(Write.init),
            description: state.description.map(Write.init),
            price: state.price.map(Write.init),
            reorderPoint: state.reorderPoint.map(Write.init),
            deleted: state.deleted.map(Write.init),
            barcodes: state.barcodes.map(Write.init))
    }

    private struct Stamp: Hashable {
        var timestamp: HLCTimestamp
        var replica: ReplicaID
    }

    /// One product operation per write held: the fields written together, as one patch stamped with the write's
    /// timestamp and origin (a timestamp and replica name one write).
    static func operations(carrying metadata: ProductMetadata) -> [LedgerOperation] {
        var patches: [Stamp: ProductPatch] = [:]
        func add<Value>(_ register: LWWRegister<Value>?, _ set: (inout ProductPatch, Value) -> Void) {
            guard let register else { return }
            set(&patches[Stamp(timestamp: register.timestamp, replica: register.replica), default: ProductPatch()], register.value)
        }
        add(metadata.name) { $0.name = $1 }
        add(metadata.description) { $0.description = $1 }
        add(metadata.price) { $0.price = .some($1) }
        add(metadata.reorderPoint) { $0.reorderPoint = .some($1) }
        add(metadata.deleted) { $0.deleted = $1 }
        add(metadata.barcodes) { $0.barcodes = $1 }
        let ordered = patches.sorted { ($0.key.timestamp, $0.key.replica) < ($1.key.timestamp, $1.key.replica) }
        return numbered(
            ordered.map { stamp, patch in
                LedgerOperation(
                    origin: stamp.replica, sequence: 1, timestamp: stamp.timestamp, kind: .productUpdate, sku: lawSKU,
                    product: patch, actor: "law")
            })
    }

    /// As the applier merges a product operation: the patch applied at its timestamp by its origin, merged.
    static func state(mergedFrom operations: [LedgerOperation]) -> ProductMetadata {
        var metadata = ProductMetadata()
        for op in operations {
            guard let patch = op.product else { continue }
            var delta = ProductMetadata()
            delta.apply(patch, at: op.timestamp, by: op.origin)
            metadata.merge(delta)
        }
        return metadata
    }
}

@Suite struct ProductMetadataTests {
    let a = try! ReplicaID("a")
    let b = try! ReplicaID("b")

    func stamp(_ physical: UInt64) -> HLCTimestamp {
        HLCTimestamp(physicalMilliseconds: physical, logical: 0)
    }

    @Test(arguments: Law.allCases)
    func laws(_ law: Law) async {
        await Laws<ProductMetadataSubject>.check(law)
    }

    @Test func concurrentEditsOfDifferentFieldsBothSurvive() {
        let base = ProductMetadata()
        var left = base
        var right = base
        left.apply(ProductPatch(name: "Green tea"), at: stamp(10), by: a)
        right.apply(ProductPatch(price: "4.50"), at: stamp(9), by: b)
        let merged = left.merged(with: right)
        #expect(merged.name?.value == "Green tea")
        #expect(merged.price?.value == "4.50")
        #expect(merged == right.merged(with: left))
    }

    @Test func applyReturnsOnlyTheTouchedFields() {
        var metadata = ProductMetadata()
        metadata.apply(ProductPatch(name: "Tea", description: "Loose leaf"), at: stamp(1), by: a)
        let delta = metadata.apply(ProductPatch(price: .some(nil), deleted: true), at: stamp(2), by: a)
        #expect(delta.name == nil)
        #expect(delta.description == nil)
        #expect(delta.reorderPoint == nil)
        #expect(delta.price == LWWRegister(value: nil, timestamp: stamp(2), replica: a))
        #expect(delta.deleted == LWWRegister(value: true, timestamp: stamp(2), replica: a))
        #expect(metadata.isDeleted)
        #expect((metadata.price?.value ?? nil) == nil)
        #expect(metadata.name?.value == "Tea")
        #expect(metadata.description?.value == "Loose leaf")
    }

    @Test func olderWriteLoses() {
        var metadata = ProductMetadata()
        metadata.apply(ProductPatch(reorderPoint: 5), at: stamp(10), by: a)
        metadata.apply(ProductPatch(reorderPoint: 8), at: stamp(3), by: b)
        #expect(metadata.reorderPoint?.value == 5)
    }

    @Test func laterUndeleteWins() {
        var metadata = ProductMetadata()
        metadata.apply(ProductPatch(deleted: true), at: stamp(1), by: a)
        #expect(metadata.isDeleted)
        metadata.apply(ProductPatch(deleted: false), at: stamp(2), by: b)
        #expect(!metadata.isDeleted)
    }

    @Test func emptyMetadataReadsAsNothing() {
        let metadata = ProductMetadata()
        #expect(metadata.name == nil)
        #expect((metadata.price?.value ?? nil) == nil)
        #expect(metadata.reorderPoint == nil)
        #expect(!metadata.isDeleted)
    }

    @Test func patchDistinguishesUntouchedFromCleared() throws {
        let patches = [
            ProductPatch(),
            ProductPatch(name: "Tea", price: .some(nil)),
            ProductPatch(price: "1.00", reorderPoint: .some(nil), deleted: false),
            ProductPatch(description: "", reorderPoint: 3),
        ]
        for patch in patches {
            let data = try JSONEncoder().encode(patch)
            #expect(try JSONDecoder().decode(ProductPatch.self, from: data) == patch)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(
            String(decoding: try encoder.encode(ProductPatch(name: "Tea", price: .some(nil))), as: UTF8.self)
                == #"{"name":"Tea","price":null}"#)
        #expect(ProductPatch().isEmpty)
    }
}
