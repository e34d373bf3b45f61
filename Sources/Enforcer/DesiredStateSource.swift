import HostModel

/// Which version of the policy a state comes from. `number` is monotonic
/// per source (etcd's revision; a file's modification time in seconds) and
/// goes to metrics; `label` names the version in logs and status.
public struct Revision: Hashable, Sendable, Codable, CustomStringConvertible {
    public var number: Int64
    public var label: String

    public init(number: Int64, label: String) {
        self.number = number
        self.label = label
    }

    public var description: String { label }
}

/// What a source says about this host's desired state.
public enum SourceEvent: Sendable {
    /// A new desired state for this host.
    case desired(HostState, Revision)
    /// The source has a new version that can't be enforced (an invalid
    /// policy, this host missing from it): the last good state stays.
    case rejected(Revision, errors: [String])
    /// The source can't be read (file deleted, etcd down): the last state
    /// stays enforced; the source says when it is back with a new event.
    case unavailable(String)
}

/// Where the desired state comes from: a local policy file, or etcd.
public protocol DesiredStateSource: Sendable, CustomStringConvertible {
    /// Events from now on, until the consuming task is cancelled. The first
    /// event tells the current state (or why there is none).
    func events() -> AsyncStream<SourceEvent>
}
