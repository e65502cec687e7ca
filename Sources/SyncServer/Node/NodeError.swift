/// Why a node could not be created, opened or started. Each message is one line a person can act on.
public enum NodeError: Error, Equatable, Sendable, CustomStringConvertible {
    case badConfig(String)
    case missingDataDirectory(String)
    case damagedDataDirectory(String)
    case alreadyInitialized(String)
    case portInUse(String)
    case other(String)

    public var description: String {
        switch self {
        case .badConfig(let message): "bad config: \(message)"
        case .missingDataDirectory(let path): "no node data directory at \(path); create one with `inv init --data \(path) --warehouse ID`"
        case .damagedDataDirectory(let message): "damaged data directory: \(message)"
        case .alreadyInitialized(let path): "\(path) already holds a node; choose another --data directory"
        case .portInUse(let address): "cannot listen on \(address): the address is already in use"
        case .other(let message): message
        }
    }
}
