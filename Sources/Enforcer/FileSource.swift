import Foundation
import HostModel
import PolicyCompiler
import PolicyModel
import PolicyYAML

/// The default source: a policy file on this host, compiled for this host
/// whenever it changes. Polled (a stat every `pollInterval`), because editors
/// and config management replace files by renaming, which a watch on the
/// file itself would lose; an unchanged stat costs nothing.
public struct FileSource: DesiredStateSource {
    public let path: String
    public let host: String
    public let pollInterval: Duration

    public init(path: String, host: String, pollInterval: Duration = .milliseconds(250)) {
        self.path = path
        self.host = host
        self.pollInterval = pollInterval
    }

    public var description: String { "file:\(path)" }

    public func events() -> AsyncStream<SourceEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SourceEvent.self)
        let task = Task { [self] in
            var seen: FileVersion?
            var lastContent: UInt64?
            var unavailable = false
            while !Task.isCancelled {
                switch FileVersion(path: path) {
                case nil:
                    if !unavailable {
                        continuation.yield(.unavailable("\(path) does not exist or can't be read"))
                        unavailable = true
                        seen = nil
                    }
                case let version? where version != seen:
                    seen = version
                    guard let bytes = FileManager.default.contents(atPath: path).map(Array.init) else { break }
                    let content = StableHash.fnv1a(bytes)
                    // A rewrite with the same content (touch, a config tool
                    // run) is no new version.
                    if content == lastContent && !unavailable { break }
                    lastContent = content
                    unavailable = false
                    continuation.yield(compile(bytes, revision: Revision(
                        number: version.modified, label: "\(path)@\(String(content, radix: 16).prefix(12))")))
                default:
                    break
                }
                try? await Task.sleep(for: pollInterval)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    func compile(_ bytes: [UInt8], revision: Revision) -> SourceEvent {
        switch PolicyFile.decode(bytes, name: path) {
        case .failure(let error):
            return .rejected(revision, errors: error.diagnostics.map(\.description))
        case .success(let policy):
            do {
                return .desired(try PolicyCompiler(policy).compile(host: host), revision)
            } catch {
                return .rejected(revision, errors: ["\(error)"])
            }
        }
    }
}

/// What a stat tells about a file: enough to notice any rewrite.
private struct FileVersion: Equatable {
    var inode: UInt64
    var size: UInt64
    var modifiedNanoseconds: Int64

    var modified: Int64 { modifiedNanoseconds / 1_000_000_000 }

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        inode = UInt64(info.st_ino)
        size = UInt64(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}
