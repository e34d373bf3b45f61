import Testing

@testable import Netlink

@Suite struct SocketTests {
    @Test func errorNamesOperationErrnoAndKernelText() {
        let error = NetlinkError(operation: "add chain x to inet secgroups", errno: 2, kernelMessage: "no such table")
        #expect(error.description == #"add chain x to inet secgroups: No such file or directory (kernel: "no such table")"#)
    }
}

@Suite(.enabled(if: KernelAccess.available, KernelAccess.reason))
struct NamespaceTests {
    @Test func socketsOpenedInsideStayInTheTestNamespace() throws {
        let ns = try TestNamespace("sock")
        let socket = try ns.run { try NetlinkSocket(bus: 0) }
        #expect(socket.portID != 0)
        _ = try ns.exec("ip", ["link", "add", "sgt-dummy", "type", "dummy"])
        #expect(try Shell.run("ip", ["link", "show", "sgt-dummy"]).status != 0, "the device must not be in the root namespace")
    }
}
