/// Helpers for encoding replica-keyed dictionaries as JSON objects.
///
/// `ReplicaID` is not `CodingKeyRepresentable`, so a `[ReplicaID: V]` would encode as a flat array of
/// alternating keys and values. These helpers go through `[String: V]` instead, validating keys on the way in.
extension Dictionary where Key == ReplicaID, Value: Codable {
    /// Decodes a JSON object whose keys are replica IDs.
    ///
    /// - Throws: `DecodingError.dataCorrupted` (with ``CRDTError/invalidReplicaID(_:)`` as underlying
    ///   error) for an invalid key.
    init(decodingReplicaKeyedFrom decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode([String: Value].self)
        self.init(minimumCapacity: raw.count)
        for (key, value) in raw {
            guard let replica = try? ReplicaID(key) else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: decoder.codingPath,
                        debugDescription: CRDTError.invalidReplicaID(key).description,
                        underlyingError: CRDTError.invalidReplicaID(key)))
            }
            self[replica] = value
        }
    }

    /// Encodes the dictionary as a JSON object keyed by the replica IDs' raw values.
    func encodeReplicaKeyed(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary<String, Value>(uniqueKeysWithValues: map { ($0.key.rawValue, $0.value) }))
    }
}
