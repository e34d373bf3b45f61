import CNetlink
import HostModel
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// The project's nftables tables over netlink: one atomic batch per apply,
/// and a read-back of given tables into the same IR the compiler produces.
/// Equivalent to: `nft -f` of the rendered operations, and `nft -j list
/// table` parsed back. Other tables are never read or written.
public final class NFTConnection {
    private let socket: NetlinkSocket

    public init() throws(NetlinkError) {
        socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
    }

    // MARK: - apply

    /// Sends all operations as one transaction. On error the kernel has
    /// changed nothing, and the error names the first operation it refused.
    /// `definitions` are the current definitions of sets the operations add
    /// elements to or delete them from without creating the set. Returns
    /// the ruleset generation right after the commit (see `generation()`).
    @discardableResult
    public func apply(_ operations: [NFTOperation], definitions: [NFTTableID: [String: NFTSet.Definition]] = [:]) throws(NetlinkError) -> UInt32 {
        guard !operations.isEmpty else { return try generation() }
        // Sequence numbers: one for BATCH_BEGIN, one per message, one for END.
        let batch = NFTBatch(firstSequence: socket.reserveSequences(0))
        for (table, sets) in definitions {
            for (name, definition) in sets { batch.layouts[NFTBatch.SetKey(table: table, name: name)] = definition }
        }
        batch.add(operations)
        batch.finish()
        _ = socket.reserveSequences(batch.messageCount + 2)
        socket.reserveBuffers(sending: batch.bytes.count, replies: 64)
        try socket.send(batch.bytes, what: "send nftables batch")
        // The kernel processes the batch inside sendmsg, so its errors are
        // queued before the reply to any later request: a GETGEN marks the end.
        // Its answer is also the generation the commit left.
        let (replies, generation) = try receiveGeneration(asked: try sendGenerationRequest(), what: "nftables batch")
        let failures = replies.filter { $0.errno != 0 }
            .sorted { $0.sequence &- batch.first < $1.sequence &- batch.first }
        if let failure = failures.first {
            let what = batch.description(of: failure.sequence) ?? "nftables batch"
            throw NetlinkError(operation: what, errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
        return generation
    }

    /// The ruleset generation of this namespace: the kernel counts every
    /// committed nftables transaction, anyone's, in any table. While it
    /// stays the same, no table has changed.
    public func generation() throws(NetlinkError) -> UInt32 {
        let (replies, generation) = try receiveGeneration(asked: try sendGenerationRequest(), what: "read ruleset generation")
        if let failure = replies.first {
            throw NetlinkError(operation: "read ruleset generation", errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
        return generation
    }

    /// Reads replies up to the ack of the generation request `marker`;
    /// returns the errors before it and the generation it answered.
    private func receiveGeneration(asked marker: UInt32, what: String) throws(NetlinkError) -> (errors: [NetlinkReply], generation: UInt32) {
        var generation: UInt32?
        let replies = try socket.receive(what: what, onData: { message in
            if message.pointee.nlmsg_seq == marker { generation = Self.generationID(message) }
        }, isDone: { replies, _ in
            replies.contains { $0.sequence == marker }
        })
        if let failure = replies.first(where: { $0.sequence == marker && $0.errno != 0 }) {
            throw NetlinkError(operation: "read ruleset generation", errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
        guard let generation else {
            throw NetlinkError(operation: "read ruleset generation", errno: EPROTO, kernelMessage: "the kernel's answer had no generation id")
        }
        return (replies.filter { $0.errno != 0 && $0.sequence != marker }, generation)
    }

    /// NFTA_GEN_ID of an NFT_MSG_NEWGEN message, nil for any other message.
    private static func generationID(_ message: UnsafePointer<nlmsghdr>) -> UInt32? {
        guard message.pointee.nlmsg_type & 0xff == UInt16(NFT_MSG_NEWGEN.rawValue) else { return nil }
        let gen = nftnl_gen_alloc()!
        defer { nftnl_gen_free(gen) }
        guard nftnl_gen_nlmsg_parse(message, gen) >= 0, nftnl_gen_is_set(gen, UInt16(NFTNL_GEN_ID)) else { return nil }
        return nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID))
    }

    /// Asks for the ruleset generation, with an ack; returns the sequence number.
    private func sendGenerationRequest() throws(NetlinkError) -> UInt32 {
        let sequence = socket.reserveSequences(1)
        var buffer = [UInt8](repeating: 0, count: 64)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let header = sg_nftnl_nlmsg_build_hdr(
                raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(NFT_MSG_GETGEN.rawValue), UInt16(AF_UNSPEC),
                UInt16(NLM_F_ACK), sequence)!
            return Int(header.pointee.nlmsg_len)
        }
        try socket.send(Array(buffer[0..<length]), what: "read ruleset generation")
        return sequence
    }

    // MARK: - read

    /// The given tables as they are in the kernel; absent tables are left out.
    public func read(_ ids: [NFTTableID]) throws(NetlinkError) -> [NFTTable] {
        let present = try tables()
        var out: [NFTTable] = []
        for id in ids where present.contains(id) {
            out.append(try read(id))
        }
        return out
    }

    /// The definitions of the given tables' sets (for `apply`).
    public static func definitions(of tables: [NFTTable]) -> [NFTTableID: [String: NFTSet.Definition]] {
        Dictionary(uniqueKeysWithValues: tables.map { ($0.id, $0.sets.mapValues(\.definition)) })
    }

    func tables() throws(NetlinkError) -> Set<NFTTableID> {
        var found = Set<NFTTableID>()
        for family in [NFTFamily.bridge, .inet] {
            try dump(NFT_MSG_GETTABLE, family: family, what: "list tables") { _ in } onMessage: { message in
                let t = nftnl_table_alloc()!
                defer { nftnl_table_free(t) }
                guard nftnl_table_nlmsg_parse(message, t) >= 0 else { return }
                found.insert(NFTTableID(family, String(cString: nftnl_table_get_str(t, UInt16(NFTNL_TABLE_NAME.rawValue)))))
            }
        }
        return found
    }

    private struct RawSet {
        var name: String
        var flags: UInt32
        var keyType: UInt32
        var keyLength: UInt32
        var dataType: UInt32?
        var userData: [UInt8]
        var elements: [NFTWireElement] = []

        var anonymous: Bool { flags & UInt32(NFT_SET_ANONYMOUS.rawValue) != 0 }
        var interval: Bool { flags & UInt32(NFT_SET_INTERVAL.rawValue) != 0 }
    }

    private func read(_ id: NFTTableID) throws(NetlinkError) -> NFTTable {
        var rawSets: [String: RawSet] = [:]
        try dump(NFT_MSG_GETSET, family: id.family, what: "list sets of \(id)") { header in
            NFTObjects.withSet(id, name: nil) { nftnl_set_nlmsg_build_payload(header, $0) }
        } onMessage: { message in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            guard nftnl_set_nlmsg_parse(message, s) >= 0 else { return }
            func u32(_ a: UInt32) -> UInt32? { nftnl_set_is_set(s, UInt16(a)) ? nftnl_set_get_u32(s, UInt16(a)) : nil }
            var length: UInt32 = 0
            let udata = nftnl_set_get_data(s, UInt16(NFTNL_SET_USERDATA.rawValue), &length)
            let set = RawSet(
                name: String(cString: nftnl_set_get_str(s, UInt16(NFTNL_SET_NAME.rawValue))), flags: u32(NFTNL_SET_FLAGS.rawValue) ?? 0,
                keyType: u32(NFTNL_SET_KEY_TYPE.rawValue) ?? 0, keyLength: u32(NFTNL_SET_KEY_LEN.rawValue) ?? 0,
                dataType: u32(NFTNL_SET_DATA_TYPE.rawValue),
                userData: udata.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? [])
            rawSets[set.name] = set
        }
        for name in rawSets.keys {
            rawSets[name]!.elements = try elements(id, set: name)
        }

        var chains: [String: NFTChain] = [:]
        var chainOrder: [String] = []
        try forEachChain(of: id) { c, name in
            var chain = NFTChain(name: name)
            if nftnl_chain_is_set(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)) {
                let hook = NFTHook(number: nftnl_chain_get_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue)))
                let policy = NFTVerdict(code: Int32(bitPattern: nftnl_chain_get_u32(c, UInt16(NFTNL_CHAIN_POLICY.rawValue))), chain: nil)
                // An unknown hook reads as an impossible base chain, so the
                // table is rebuilt rather than silently kept.
                chain.base = NFTBaseChain(
                    hook: hook ?? .postrouting, priority: hook == nil ? .min : nftnl_chain_get_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue)),
                    policy: policy ?? .return)
            }
            chain.comment = Self.comment(ofChain: c)
            chains[name] = chain
            chainOrder.append(name)
        }

        let directory = SetDirectory(sets: rawSets)
        try forEachRule(of: id) { r, chain in
            chains[chain]?.rules.append(Self.decodeRule(r, sets: directory))
        }

        var table = NFTTable(id: id, chains: Array(chains.values))
        for set in rawSets.values where !set.anonymous {
            table.sets[set.name] = Self.decodeSet(set)
        }
        return table
    }

    /// Each chain of the table as the kernel dumps it, with its name.
    func forEachChain(of id: NFTTableID, _ body: (OpaquePointer, String) -> Void) throws(NetlinkError) {
        try dump(NFT_MSG_GETCHAIN, family: id.family, what: "list chains of \(id)") { header in
            NFTObjects.withChain(id, name: nil) { nftnl_chain_nlmsg_build_payload(header, $0) }
        } onMessage: { message in
            let c = nftnl_chain_alloc()!
            defer { nftnl_chain_free(c) }
            guard nftnl_chain_nlmsg_parse(message, c) >= 0,
                String(cString: nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue))) == id.name
            else { return }
            body(c, String(cString: nftnl_chain_get_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue))))
        }
    }

    /// Each rule of the table in chain order, with its chain's name.
    func forEachRule(of id: NFTTableID, _ body: (OpaquePointer, String) -> Void) throws(NetlinkError) {
        try dump(NFT_MSG_GETRULE, family: id.family, what: "list rules of \(id)") { header in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), id.name)
            nftnl_rule_nlmsg_build_payload(header, r)
        } onMessage: { message in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            guard nftnl_rule_nlmsg_parse(message, r) >= 0,
                String(cString: nftnl_rule_get_str(r, UInt16(NFTNL_RULE_TABLE.rawValue))) == id.name
            else { return }
            body(r, String(cString: nftnl_rule_get_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue))))
        }
    }

    private func elements(_ id: NFTTableID, set name: String) throws(NetlinkError) -> [NFTWireElement] {
        var out: [NFTWireElement] = []
        try dump(NFT_MSG_GETSETELEM, family: id.family, what: "list elements of set \(name) of \(id)") { header in
            NFTObjects.withSet(id, name: name) { nftnl_set_elems_nlmsg_build_payload(header, $0) }
        } onMessage: { message in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            guard nftnl_set_elems_nlmsg_parse(message, s) >= 0 else { return }
            withUnsafeMutablePointer(to: &out) { box in
                _ = nftnl_set_elem_foreach(s, { e, data in
                    guard let e, let data else { return 0 }
                    data.assumingMemoryBound(to: [NFTWireElement].self).pointee.append(NFTConnection.wireElement(e))
                    return 0
                }, box)
            }
        }
        return out
    }

    private static func wireElement(_ e: OpaquePointer) -> NFTWireElement {
        func bytes(_ a: Int) -> [UInt8]? {
            guard nftnl_set_elem_is_set(e, UInt16(a)) else { return nil }
            var length: UInt32 = 0
            guard let p = nftnl_set_elem_get(e, UInt16(a), &length) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(length)))
        }
        var element = NFTWireElement(key: bytes(NFTNL_SET_ELEM_KEY) ?? [])
        element.keyEnd = bytes(NFTNL_SET_ELEM_KEY_END)
        element.data = bytes(NFTNL_SET_ELEM_DATA)
        if nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_VERDICT)) {
            let code = Int32(bitPattern: nftnl_set_elem_get_u32(e, UInt16(NFTNL_SET_ELEM_VERDICT)))
            let chain = nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_CHAIN))
                ? String(cString: nftnl_set_elem_get_str(e, UInt16(NFTNL_SET_ELEM_CHAIN))) : nil
            element.verdict = NFTVerdict(code: code, chain: chain)
        }
        if nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_FLAGS)) {
            element.flags = nftnl_set_elem_get_u32(e, UInt16(NFTNL_SET_ELEM_FLAGS))
        }
        return element
    }

    // MARK: - decoding

    private struct SetDirectory: NFTSetDirectory {
        var sets: [String: RawSet]

        func anonymousValues(_ name: String, selector: NFTSelector) -> [NFTValue]? {
            guard let set = sets[name], set.anonymous else { return nil }
            return NFTElementCodec.decodeAnonymous(set.elements, interval: set.interval, selector: selector)
        }

        func keyCount(_ name: String) -> Int? {
            sets[name].flatMap { NFTConnection.definition($0)?.key.count }
        }
    }

    private static func decodeRule(_ r: OpaquePointer, sets: SetDirectory) -> NFTRule {
        var expressions: [NFTExpression] = []
        withUnsafeMutablePointer(to: &expressions) { box in
            _ = nftnl_expr_foreach(r, { e, data in
                guard let e, let data else { return 0 }
                data.assumingMemoryBound(to: [NFTExpression].self).pointee.append(NFTExpression(e))
                return 0
            }, box)
        }
        let comment = comment(ofRule: r)
        do {
            return try NFTRuleDecoder.decode(expressions, comment: comment, sets: sets)
        } catch {
            // Not something we wrote: keep it visible and different from any
            // compiled rule, so the next apply replaces the chain's rules.
            return NFTRule(comment: "unrecognised rule (\(error.description))")
        }
    }

    static func comment(ofChain c: OpaquePointer) -> String? {
        var length: UInt32 = 0
        guard let udata = nftnl_chain_get_data(c, UInt16(NFTNL_CHAIN_USERDATA.rawValue), &length) else { return nil }
        return NFTSetUserData.string(NFTSetUserData.decode(Array(UnsafeRawBufferPointer(start: udata, count: Int(length))))[0])
    }

    static func comment(ofRule r: OpaquePointer) -> String? {
        var length: UInt32 = 0
        guard let udata = nftnl_rule_get_data(r, UInt16(NFTNL_RULE_USERDATA.rawValue), &length) else { return nil }
        return NFTSetUserData.string(NFTSetUserData.decode(Array(UnsafeRawBufferPointer(start: udata, count: Int(length))))[0])
    }

    private static func definition(_ set: RawSet) -> NFTSet.Definition? {
        let udata = NFTSetUserData.decode(set.userData)
        var key: [NFTDataType] = []
        if let type = NFTDataType(nftTypeID: set.keyType, typeof: udata[NFTSetUserData.keyTypeof]),
            type.wire.length == Int(set.keyLength)
        {
            key = [type]
        } else {
            // A concatenation: as many 6-bit type numbers as fill the key length.
            for count in 2...4 {
                let types = nftSplitTypeID(set.keyType, count: count).compactMap { NFTDataType(nftTypeID: $0, typeof: nil) }
                if types.count == count, NFTBatch.keyLength(types) == Int(set.keyLength) {
                    key = types
                    break
                }
            }
        }
        guard !key.isEmpty, NFTBatch.keyLength(key) == Int(set.keyLength) else { return nil }
        var data: NFTDataType?
        if let dataType = set.dataType {
            guard let type = NFTDataType(nftTypeID: dataType, typeof: udata[NFTSetUserData.dataTypeof]) else { return nil }
            data = type
        }
        return NFTSet.Definition(
            key: key, data: data, interval: set.interval, comment: NFTSetUserData.string(udata[NFTSetUserData.comment]))
    }

    /// A set as the IR has it. One we can't read gets a definition no
    /// compiled set has, so the diff rebuilds the table.
    private static func decodeSet(_ set: RawSet) -> NFTSet {
        guard let definition = definition(set), let elements = NFTElementCodec.decode(set.elements, definition) else {
            return NFTSet(name: set.name, key: [.verdict], comment: "unrecognised set")
        }
        var out = NFTSet(name: set.name, key: definition.key, data: definition.data, interval: definition.interval, comment: definition.comment)
        out.elements = elements
        return out
    }

    // MARK: - dumps

    private func dump(
        _ type: nf_tables_msg_types, family: NFTFamily, what: String,
        payload: (UnsafeMutablePointer<nlmsghdr>) -> Void,
        onMessage: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(NetlinkError) {
        let sequence = socket.reserveSequences(1)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let header = sg_nftnl_nlmsg_build_hdr(
                raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue), UInt16(family.protocolFamily),
                UInt16(NLM_F_DUMP), sequence)!
            payload(header)
            return Int(header.pointee.nlmsg_len)
        }
        try socket.send(Array(buffer[0..<length]), what: what)
        let replies = try socket.receive(what: what, onData: { message throws(NetlinkError) in
            onMessage(message)
        }, isDone: { replies, done in done || replies.contains { $0.errno != 0 } })
        if let failure = replies.first(where: { $0.errno != 0 }) {
            throw NetlinkError(operation: what, errno: failure.errno, kernelMessage: failure.kernelMessage)
        }
    }

}
