import CRDT
import Store
import SyncServer
import Testing

@Suite("Event hub: filtered subscriptions")
struct EventHubTests {
    static func receipt(from origin: String, sequence: UInt64) throws -> StoreEvent {
        .operation(LedgerOperation(
            origin: try ReplicaID(origin), sequence: sequence, timestamp: HLCTimestamp(rawValue: sequence << 16), kind: .receive,
            sku: try SKU("A"), movementID: MovementID.generate(), warehouse: try ReplicaID(origin), delta: 1,
            counter: PNCounter.Entry(increments: sequence, decrements: 0), actor: "test"))
    }

    @Test func aSubscriberReceivesOnlyTheEventsItsFilterAccepts() async throws {
        let hub = EventHub()
        let everything = hub.subscribe()
        let ownOnly = hub.subscribe { event in
            if case .operation(let op) = event { return op.origin.rawValue == "SEV" }
            return false
        }
        let published = [
            try Self.receipt(from: "MAD", sequence: 1), try Self.receipt(from: "SEV", sequence: 1),
            .alertCleared(sku: "A", warehouse: "SEV"), try Self.receipt(from: "MAD", sequence: 2),
        ]
        hub.publish(published)
        hub.finishAll()
        var all: [StoreEvent] = []
        for await case .event(let event, _) in everything { all.append(event) }
        var own: [StoreEvent] = []
        for await case .event(let event, _) in ownOnly { own.append(event) }
        #expect(all == published)
        #expect(own == [published[1]])
    }

    @Test func mergedPagesExpandInPlaceAndReachOnlySubscribersThatWantThem() async throws {
        func op(_ event: StoreEvent) -> LedgerOperation {
            guard case .operation(let op) = event else { fatalError("not an operation") }
            return op
        }
        let local = try Self.receipt(from: "MAD", sequence: 1)
        let page = try (1...3).map { op(try Self.receipt(from: "SEV", sequence: $0)) }
        var events = CommittedEvents([local])
        events.append(merged: page[...])
        events.append(.alertCleared(sku: "A", warehouse: "SEV"))
        let expanded: [StoreEvent] = [local] + page.map(StoreEvent.operation) + [.alertCleared(sku: "A", warehouse: "SEV")]
        #expect(Array(events) == expanded)

        let hub = EventHub()
        let everything = hub.subscribe()
        let noMerged = hub.subscribe(mergedOperations: false)
        hub.publish(events)
        hub.finishAll()
        var all: [StoreEvent] = []
        for await case .event(let event, _) in everything { all.append(event) }
        var unmerged: [StoreEvent] = []
        for await case .event(let event, _) in noMerged { unmerged.append(event) }
        #expect(all == expanded)
        #expect(unmerged == [local, .alertCleared(sku: "A", warehouse: "SEV")])
    }
}

@Suite("Event hub: stock with movements")
struct EventHubStockTests {
    @Test func onlySubscribersThatAskForStockGetItAndTheWriterIsAskedOnlyWhileOneListens() async throws {
        let hub = EventHub()
        #expect(!hub.reportsStock)
        let withStock = hub.subscribe(stock: true)
        let without = hub.subscribe()
        #expect(hub.reportsStock)
        let receipt = try EventHubTests.receipt(from: "MAD", sequence: 1)
        var events = CommittedEvents([receipt])
        events.append(stock: 41, sku: try SKU("A"), warehouse: try ReplicaID("SEV"))
        events.append(stock: 42, sku: try SKU("A"), warehouse: try ReplicaID("MAD"))
        hub.publish(events)
        hub.finishAll()
        #expect(!hub.reportsStock)
        var reported: [Int64?] = []
        for await case .event(_, let onHand) in withStock { reported.append(onHand) }
        var unreported: [Int64?] = []
        for await case .event(_, let onHand) in without { unreported.append(onHand) }
        #expect(reported == [42])
        #expect(unreported == [nil])
    }

    @Test func aSubscriptionThatEndsStopsAskingForStock() async throws {
        let hub = EventHub()
        do {
            let stream = hub.subscribe(stock: true)
            #expect(hub.reportsStock)
            _ = stream
        }
        // The stream is gone: its termination removes the subscriber.
        for _ in 0..<100 where hub.reportsStock { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!hub.reportsStock)
    }
}
