extension VersionVector: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(try [ReplicaID: UInt64](decodingReplicaKeyedFrom: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try entries.encodeReplicaKeyed(to: encoder)
    }
}
