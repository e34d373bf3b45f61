import Dataplane
import Foundation

/// Runs the dataplane's calls one at a time, on a thread of its own.
/// Netlink calls block; on a small host the cooperative pool has two threads,
/// and the metrics endpoint and the sources must keep running meanwhile.
final class KernelWorker: @unchecked Sendable {
    // The dataplane (not thread-safe) is only touched on `queue`.
    private let dataplane: Dataplane
    private let queue = DispatchQueue(label: "sgd.kernel")

    init(_ dataplane: sending Dataplane) { self.dataplane = dataplane }

    func run<T: Sendable>(_ body: @escaping @Sendable (Dataplane) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self.dataplane) }) }
        }
    }
}
