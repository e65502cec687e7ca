import Foundation

/// Where the mirror's PostgreSQL database is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
///
/// The password may also come from `$PGPASSWORD`, which keeps it out of the process list.
struct PostgresURL: Equatable {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String

    init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let components = URLComponents(string: text), components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw CLIError("--url must look like postgres://USER@HOST:PORT/DATABASE")
        }
        guard let user = components.user, !user.isEmpty else { throw CLIError("--url needs a user: postgres://USER@HOST:PORT/DATABASE") }
        guard let host = components.host, !host.isEmpty else { throw CLIError("--url needs a host: postgres://USER@HOST:PORT/DATABASE") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw CLIError("--url needs a database name: postgres://USER@HOST:PORT/DATABASE")
        }
        guard components.query == nil, components.fragment == nil else {
            throw CLIError("--url takes no query or fragment (TLS options are not supported)")
        }
        self.user = user
        self.host = host
        self.port = components.port ?? 5432
        self.database = database
        self.password = components.password ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        guard (1...65_535).contains(port) else { throw CLIError("--url has an invalid port") }
    }
}
