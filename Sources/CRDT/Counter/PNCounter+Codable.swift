extension PNCounter {
    public init(from decoder: any Decoder) throws {
        self.init(entries: try [ReplicaID: Entry](decodingReplicaKeyedFrom: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try entries.encodeReplicaKeyed(to: encoder)
    }
}

extension PNCounter: WireVersioned {
    public static var wireFormatVersion: Int { 1 }
}
