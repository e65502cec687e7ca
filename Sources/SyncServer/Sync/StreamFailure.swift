/// Why a live stream from a peer ended, told by the error's type (never by its text).
enum StreamFailure: Error, Sendable, Equatable {
    /// The peer's bytes broke the protocol: a frame (``StreamFrameError``) or a page (``OperationPage/Failure``)
    /// that does not decode. A bug or a hostile peer: worth a warning, not only a debug line.
    case malformed
    /// The stream task was cancelled (pause, retirement, shutdown).
    case cancelled
    /// The connection failed, or the peer refused or failed the stream, by kind (``PeerFailure/of(_:)``:
    /// ``SyncFailure``, NIO and AsyncHTTPClient errors; an idle stream's read timeout is `timedOut`).
    case connection(PeerFailure)

    /// The kind of `error`, as thrown while opening or reading a stream.
    init(_ error: any Error) {
        switch error {
        case is CancellationError: self = .cancelled
        case is StreamFrameError, is OperationPage.Failure: self = .malformed
        default: self = .connection(PeerFailure.of(error))
        }
    }
}
