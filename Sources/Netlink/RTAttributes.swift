import CNetlink

/// The attributes of one received rtnetlink message, or of one nested
/// attribute, in order. They view the message's memory: read them inside the
/// callback that handed out the message, and copy out what you keep.
struct RTAttributes {
    /// Type (flags masked off) and payload of each attribute, in message order;
    /// a type can repeat (IFLA_BRIDGE_VLAN_INFO in IFLA_AF_SPEC does).
    let entries: [(type: Int, payload: UnsafeRawBufferPointer)]

    /// The attributes after a message's family header of `familyHeaderSize`
    /// bytes (`struct ifinfomsg`, `struct ndmsg`).
    init(message: UnsafePointer<nlmsghdr>, familyHeaderSize: Int) {
        let length = Int(message.pointee.nlmsg_len)
        let start = RTAttributes.align(MemoryLayout<nlmsghdr>.size) + RTAttributes.align(familyHeaderSize)
        guard length > start else {
            self.init(UnsafeRawBufferPointer(start: nil, count: 0))
            return
        }
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(message), count: length)
        self.init(UnsafeRawBufferPointer(rebasing: bytes[start...]))
    }

    /// The attributes in a run of bytes (a nested attribute's payload).
    /// Parsing stops at the first malformed length, as libmnl's does.
    init(_ bytes: UnsafeRawBufferPointer) {
        var entries: [(type: Int, payload: UnsafeRawBufferPointer)] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3FFF  // NLA_TYPE_MASK: without NLA_F_NESTED, NLA_F_NET_BYTEORDER
            guard length >= 4, offset + length <= bytes.count else { break }
            entries.append((Int(type), UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + length)])))
            offset += RTAttributes.align(length)
        }
        self.entries = entries
    }

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    /// The last attribute of this type (the kernel sends each once).
    subscript(type: Int) -> UnsafeRawBufferPointer? { entries.last { $0.type == type }?.payload }

    func all(_ type: Int) -> [UnsafeRawBufferPointer] { entries.filter { $0.type == type }.map(\.payload) }

    func u8(_ type: Int) -> UInt8? { value(type) }
    func u16(_ type: Int) -> UInt16? { value(type) }
    func u32(_ type: Int) -> UInt32? { value(type) }
    /// A `__be16` (ports) in host byte order.
    func be16(_ type: Int) -> UInt16? { value(type).map { UInt16(bigEndian: $0) } }

    /// A string attribute, without its NUL terminator.
    func string(_ type: Int) -> String? {
        guard let payload = self[type] else { return nil }
        let text = payload.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self)
    }

    func nested(_ type: Int) -> RTAttributes? { self[type].map(RTAttributes.init) }

    /// A fixed-size payload (an integer in host byte order, a C struct); nil
    /// when absent or too short.
    func value<T: BitwiseCopyable>(_ type: Int) -> T? {
        guard let payload = self[type] else { return nil }
        return RTAttributes.load(payload)
    }

    static func load<T: BitwiseCopyable>(_ payload: UnsafeRawBufferPointer) -> T? {
        guard payload.count >= MemoryLayout<T>.size else { return nil }
        return payload.loadUnaligned(as: T.self)
    }
}
