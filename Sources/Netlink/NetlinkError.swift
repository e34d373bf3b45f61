#if canImport(Glibc)
import Glibc
#endif

/// A kernel (or socket) error, saying which object failed, the errno, and
/// the kernel's extended-ack text when it sent one:
/// `add rule to chain sg/web/ingress of inet secgroups: No such file or
/// directory (kernel: "...")`.
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being done, naming the object: "add set remote/web/ipv4 to inet secgroups".
    public var operation: String
    /// A positive errno value (ENOENT, EEXIST, EOPNOTSUPP, ...).
    public var errno: Int32
    /// The kernel's extended acknowledgement message, if any.
    public var kernelMessage: String?

    public init(operation: String, errno: Int32, kernelMessage: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.kernelMessage = kernelMessage
    }

    public var errnoName: String { String(cString: strerror(errno)) }

    public var description: String {
        var text = "\(operation): \(errnoName)"
        if let kernelMessage, !kernelMessage.isEmpty { text += " (kernel: \"\(kernelMessage)\")" }
        return text
    }
}
