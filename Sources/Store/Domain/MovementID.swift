import Foundation

/// Movement ids: lowercase UUID strings. Clients may supply one to make a retry idempotent.
public enum MovementID {
    /// A fresh random id. Never called inside the writer or a CRDT: ids are chosen where the request is made.
    public static func generate() -> String { UUID().uuidString.lowercased() }

    /// Canonicalises a client-supplied UUID (any case) to lowercase, or returns `nil` when it is not a UUID.
    public static func canonical(_ raw: String) -> String? {
        guard let uuid = UUID(uuidString: raw) else { return nil }
        return uuid.uuidString.lowercased()
    }

    public static func isValid(_ raw: String) -> Bool { canonical(raw) == raw }
}
