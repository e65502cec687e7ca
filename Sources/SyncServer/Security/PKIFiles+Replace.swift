import Crypto

/// Replacing this node's certificate and key in place, for certificate rotation.
extension PKIFiles {
    /// Where ``replace(node:)`` stages the new certificate before renaming it into place.
    var stagedNodeCertificatePath: String { nodeCertificatePath + ".new" }
    /// Where ``replace(node:)`` stages the new key before renaming it into place.
    var stagedNodeKeyPath: String { nodeKeyPath + ".new" }

    /// Replaces `node.pem` and `node-key.pem` with `node`.
    ///
    /// Both files are first written completely, with their final modes, as `node.pem.new` and `node-key.pem.new`;
    /// then the key and the certificate are renamed into place, in that order. Each file is therefore always whole,
    /// old or new; a crash between the two renames leaves the new key beside the old certificate, which
    /// ``loadNode()`` resolves with the staged certificate.
    ///
    /// - Throws: ``PKIError/fileSystem(path:operation:errno:)``; the staged files are removed on failure before the
    ///   first rename, so the old pair stays in use.
    public func replace(node: IssuedCertificate) throws {
        try SecureFileIO.createDirectory(directory)
        let certificatePEM = Array(try node.certificate.pemString.utf8)
        do {
            try SecureFileIO.store(
                Array(node.privateKey.pemRepresentation.utf8), at: stagedNodeKeyPath, mode: Self.keyMode, overwrite: true)
            try SecureFileIO.store(certificatePEM, at: stagedNodeCertificatePath, mode: Self.certificateMode, overwrite: true)
        } catch {
            SecureFileIO.remove(stagedNodeKeyPath)
            SecureFileIO.remove(stagedNodeCertificatePath)
            throw error
        }
        try SecureFileIO.move(stagedNodeKeyPath, to: nodeKeyPath)
        try SecureFileIO.move(stagedNodeCertificatePath, to: nodeCertificatePath)
    }
}
