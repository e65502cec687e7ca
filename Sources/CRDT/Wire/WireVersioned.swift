/// A type whose JSON form is versioned, so that readers refuse encodings they do not understand
/// instead of misreading them (like riak_dt's `to_binary`/`from_binary`).
///
/// Bump ``wireFormatVersion`` whenever the encoding changes incompatibly; ``WireEnvelope`` then refuses
/// payloads written with any other version.
public protocol WireVersioned: Codable, Sendable {
    /// The version of this type's current encoding (starting at 1).
    static var wireFormatVersion: Int { get }
}
