import CNetlink
import HostModel
import PolicyModel

#if canImport(Glibc)
import Glibc
#endif

/// One nf_tables transaction being built: BATCH_BEGIN, the messages, and
/// BATCH_END, in one buffer sent with one sendmsg. The kernel applies all of
/// it or none. Every message remembers what it does, so that an error names
/// the object: "add rule to chain sg/web/ingress of inet secgroups". Messages
/// don't ask for acks: the kernel reports errors anyway, and a hundred
/// thousand acks would overflow any receive buffer (ENOBUFS).
final class NFTBatch {
    private(set) var bytes: [UInt8] = []
    /// What each message does, by sequence number offset from `first`.
    private(set) var descriptions: [String] = []
    let first: UInt32
    private var nextSetID: UInt32 = 1
    private var scratch: UnsafeMutableRawPointer
    private let scratchSize = 1 << 17

    /// Elements per NEWSETELEM message: libnftnl doesn't bound-check, so
    /// keep each message well inside the scratch buffer.
    static let elementsPerMessage = 256

    init(firstSequence: UInt32) {
        first = firstSequence
        scratch = .allocate(byteCount: scratchSize, alignment: 16)
        append { buffer in
            nftnl_batch_begin(buffer.assumingMemoryBound(to: CChar.self), firstSequence)
        }
    }

    deinit { scratch.deallocate() }

    /// Sequence numbers used so far (messages plus begin and end markers).
    var messageCount: Int { descriptions.count }

    func finish() {
        let sequence = first &+ UInt32(descriptions.count + 1)
        append { buffer in nftnl_batch_end(buffer.assumingMemoryBound(to: CChar.self), sequence) }
    }

    /// The description of the message with this sequence number.
    func description(of sequence: UInt32) -> String? {
        let index = Int(sequence &- first) - 1
        return descriptions.indices.contains(index) ? descriptions[index] : nil
    }

    private var nextSequence: UInt32 { first &+ UInt32(descriptions.count + 1) }

    private func append(_ build: (UnsafeMutableRawPointer) -> UnsafeMutablePointer<nlmsghdr>?) {
        guard let header = build(scratch) else { return }
        let length = Int(header.pointee.nlmsg_len)
        precondition(length <= scratchSize, "nf_tables message larger than its buffer")
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: length))
    }

    /// One message: a header of `type` for `family`, then `payload` fills it.
    private func message(
        _ type: nf_tables_msg_types, family: NFTFamily, flags: Int32, _ description: String,
        _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) {
        let sequence = nextSequence
        descriptions.append(description)
        append { buffer in
            let header = sg_nftnl_nlmsg_build_hdr(
                buffer.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue), UInt16(family.protocolFamily),
                UInt16(flags), sequence)!
            payload(header)
            return header
        }
    }

    // MARK: - operations

    func add(_ operations: [NFTOperation]) {
        var index = 0
        while index < operations.count {
            if !operations[index].creates { flushDeferredElements() }
            // Chains created together are all declared before any of their
            // rules, so a rule can jump to a chain created later in the run.
            if case .addChain = operations[index] {
                var end = index
                while end < operations.count, case .addChain = operations[end] { end += 1 }
                // In the order `nft list` then shows them: base chains by
                // hook and priority, then the rest by name.
                let run = operations[index..<end].compactMap { op -> (NFTTableID, NFTChain)? in
                    if case .addChain(let table, let chain) = op { return (table, chain) }
                    return nil
                }.sorted { a, b in
                    a.0 != b.0 ? a.0 < b.0 : NFTRenderer.displayOrder(a.1) < NFTRenderer.displayOrder(b.1)
                }
                for (table, chain) in run { addChain(table, chain) }
                for (table, chain) in run { for rule in chain.rules { addRule(table, chain: chain.name, rule) } }
                index = end
                continue
            }
            add(operations[index])
            index += 1
        }
        flushDeferredElements()
    }

    /// Elements of new verdict maps wait until the chains they jump to exist:
    /// sets come before chains (rules look them up), chains before these.
    private var deferredElements: [(NFTTableID, NFTSet)] = []

    private func flushDeferredElements() {
        for (table, set) in deferredElements {
            elementMessages(NFT_MSG_NEWSETELEM, table, set: set.name, set.elements.sorted(), flags: NLM_F_CREATE, verb: "add", definition: set.definition)
        }
        deferredElements = []
    }

    private func add(_ operation: NFTOperation) {
        switch operation {
        case .addTable(let id):
            table(NFT_MSG_NEWTABLE, id, flags: NLM_F_CREATE, "add table \(id)")
        case .deleteTable(let id):
            table(NFT_MSG_DELTABLE, id, flags: 0, "delete table \(id)")
        case .addSet(let table, let set):
            addSet(table, set)
        case .deleteSet(let table, let name):
            NFTObjects.withSet(table, name: name) { s in
                message(NFT_MSG_DELSET, family: table.family, flags: 0, "delete set \(name) of \(table)") { nftnl_set_nlmsg_build_payload($0, s) }
            }
        case .addElements(let table, let set, let elements):
            elementMessages(NFT_MSG_NEWSETELEM, table, set: set, elements, flags: NLM_F_CREATE, verb: "add")
        case .deleteElements(let table, let set, let elements):
            elementMessages(NFT_MSG_DELSETELEM, table, set: set, elements, flags: 0, verb: "delete")
        case .addChain(let table, let chain):
            addChain(table, chain)
            for rule in chain.rules { addRule(table, chain: chain.name, rule) }
        case .deleteChain(let table, let name):
            NFTObjects.withChain(table, name: name) { c in
                message(NFT_MSG_DELCHAIN, family: table.family, flags: 0, "delete chain \(name) of \(table)") { nftnl_chain_nlmsg_build_payload($0, c) }
            }
        case .replaceRules(let table, let chain, let rules):
            // A DELRULE naming only the chain flushes it; the new rules follow
            // in the same transaction, so no packet sees the chain empty.
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
            nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), chain)
            message(NFT_MSG_DELRULE, family: table.family, flags: 0, "flush chain \(chain) of \(table)") { nftnl_rule_nlmsg_build_payload($0, r) }
            for rule in rules { addRule(table, chain: chain, rule) }
        }
    }

    private func table(_ type: nf_tables_msg_types, _ id: NFTTableID, flags: Int32, _ description: String) {
        let t = nftnl_table_alloc()!
        defer { nftnl_table_free(t) }
        nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), id.name)
        message(type, family: id.family, flags: flags, description) { nftnl_table_nlmsg_build_payload($0, t) }
    }

    private func addChain(_ table: NFTTableID, _ chain: NFTChain) {
        NFTObjects.withChain(table, name: chain.name) { c in
            if let base = chain.base {
                nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.number)
                nftnl_chain_set_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue), base.priority)
                nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TYPE.rawValue), "filter")
                nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_POLICY.rawValue), UInt32(bitPattern: base.policy.code))
            }
            if let comment = chain.comment {
                let udata = NFTSetUserData.commentTLV(comment)
                udata.withUnsafeBytes { _ = nftnl_chain_set_data(c, UInt16(NFTNL_CHAIN_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
            }
            message(NFT_MSG_NEWCHAIN, family: table.family, flags: NLM_F_CREATE, "add chain \(chain.name) to \(table)") {
                nftnl_chain_nlmsg_build_payload($0, c)
            }
        }
    }

    private func addRule(_ table: NFTTableID, chain: String, _ rule: NFTRule) {
        let r = nftnl_rule_alloc()!
        defer { nftnl_rule_free(r) }
        nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
        nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), chain)
        let anonymous = NFTRuleEncoder.encode(rule, into: r) { [unowned self] in
            defer { nextSetID += 1 }
            return nextSetID
        }
        for set in anonymous { addAnonymousSet(table, set) }
        let what = "add rule \"\(NFTRenderer.rule(rule))\" to chain \(chain) of \(table)"
        message(NFT_MSG_NEWRULE, family: table.family, flags: NLM_F_CREATE | NLM_F_APPEND, what) { nftnl_rule_nlmsg_build_payload($0, r) }
    }

    // MARK: - sets

    private func addSet(_ table: NFTTableID, _ set: NFTSet) {
        let definition = set.definition
        NFTObjects.withSet(table, name: set.name) { s in
            var flags: UInt32 = 0
            if definition.interval { flags |= UInt32(NFT_SET_INTERVAL.rawValue) }
            if definition.data != nil { flags |= UInt32(NFT_SET_MAP.rawValue) }
            // As nft does: the concat flag only on ranged concatenations.
            if definition.key.count > 1 && definition.interval { flags |= UInt32(NFT_SET_CONCAT.rawValue) }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue), flags)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_TYPE.rawValue), nftConcatTypeID(definition.key))
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_LEN.rawValue), UInt32(Self.keyLength(definition.key)))
            if let data = definition.data {
                nftnl_set_set_u32(s, UInt16(NFTNL_SET_DATA_TYPE.rawValue), data.nftTypeID)
                nftnl_set_set_u32(s, UInt16(NFTNL_SET_DATA_LEN.rawValue), data == .verdict ? 16 : UInt32(data.wire.length))
            }
            if definition.interval && definition.key.count > 1 {
                // Field lengths let the kernel pick the pipapo backend, the
                // one that does ranges in concatenations.
                let fields = definition.key.map { UInt8($0.wire.length) }
                fields.withUnsafeBytes { _ = nftnl_set_set_data(s, UInt16(NFTNL_SET_DESC_CONCAT.rawValue), $0.baseAddress, UInt32($0.count)) }
            }
            let udata = NFTSetUserData.encode(definition)
            udata.withUnsafeBytes { _ = nftnl_set_set_data(s, UInt16(NFTNL_SET_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), takeSetID())
            message(NFT_MSG_NEWSET, family: table.family, flags: NLM_F_CREATE, "add \(set.isMap ? "map" : "set") \(set.name) to \(table)") {
                nftnl_set_nlmsg_build_payload($0, s)
            }
        }
        if definition.data == .verdict {
            deferredElements.append((table, set))
        } else {
            elementMessages(NFT_MSG_NEWSETELEM, table, set: set.name, set.elements.sorted(), flags: NLM_F_CREATE, verb: "add", definition: definition)
        }
    }

    private func addAnonymousSet(_ table: NFTTableID, _ set: NFTAnonymousSet) {
        NFTObjects.withSet(table, name: "__set%d") { s in
            var flags = UInt32(NFT_SET_ANONYMOUS.rawValue | NFT_SET_CONSTANT.rawValue)
            if set.interval { flags |= UInt32(NFT_SET_INTERVAL.rawValue) }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue), flags)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_TYPE.rawValue), set.keyType)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_LEN.rawValue), UInt32(set.keyLength))
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), set.id)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_DESC_SIZE.rawValue), UInt32(set.elements.count))
            message(NFT_MSG_NEWSET, family: table.family, flags: NLM_F_CREATE, "add anonymous set to \(table)") {
                nftnl_set_nlmsg_build_payload($0, s)
            }
            for element in set.elements { Self.add(element, to: s) }
            message(NFT_MSG_NEWSETELEM, family: table.family, flags: NLM_F_CREATE, "add elements to anonymous set of \(table)") {
                nftnl_set_elems_nlmsg_build_payload($0, s)
            }
        }
    }

    private func takeSetID() -> UInt32 {
        defer { nextSetID += 1 }
        return nextSetID
    }

    /// NEWSETELEM / DELSETELEM messages for `elements`, in chunks. The
    /// definition is needed to lay the elements out; for named sets of an
    /// existing table the caller passes it through `elementLayouts`.
    private func elementMessages(
        _ type: nf_tables_msg_types, _ table: NFTTableID, set: String, _ elements: [NFTElement], flags: Int32, verb: String,
        definition: NFTSet.Definition? = nil
    ) {
        guard !elements.isEmpty else { return }
        guard let definition = definition ?? layouts[SetKey(table: table, name: set)] else {
            preconditionFailure("elements for set \(set) of \(table) without its definition")
        }
        var start = 0
        while start < elements.count {
            let chunk = elements[start..<min(start + Self.elementsPerMessage, elements.count)]
            NFTObjects.withSet(table, name: set) { s in
                for element in chunk {
                    for wire in NFTElementCodec.encode(element, definition) { Self.add(wire, to: s) }
                }
                let what = "\(verb) \(chunk.count == 1 ? "element \(NFTRenderer.element(chunk.first!, keyTypes: definition.key))" : "\(chunk.count) elements") \(verb == "add" ? "to" : "from") \(set) of \(table)"
                message(type, family: table.family, flags: flags, what) { nftnl_set_elems_nlmsg_build_payload($0, s) }
            }
            start += Self.elementsPerMessage
        }
    }

    struct SetKey: Hashable {
        var table: NFTTableID
        var name: String
    }

    /// The definitions of sets whose elements change without the set being
    /// created in this batch (read from the kernel before the batch).
    var layouts: [SetKey: NFTSet.Definition] = [:]

    private static func add(_ element: NFTWireElement, to set: OpaquePointer) {
        let e = nftnl_set_elem_alloc()!
        func put(_ attribute: Int, _ bytes: [UInt8]) {
            bytes.withUnsafeBytes { _ = nftnl_set_elem_set(e, UInt16(attribute), $0.baseAddress, UInt32($0.count)) }
        }
        put(NFTNL_SET_ELEM_KEY, element.key)
        if let end = element.keyEnd { put(NFTNL_SET_ELEM_KEY_END, end) }
        if let data = element.data { put(NFTNL_SET_ELEM_DATA, data) }
        if let verdict = element.verdict {
            nftnl_set_elem_set_u32(e, UInt16(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: verdict.code))
            if let chain = verdict.target { nftnl_set_elem_set_str(e, UInt16(NFTNL_SET_ELEM_CHAIN), chain) }
        }
        if element.flags != 0 { nftnl_set_elem_set_u32(e, UInt16(NFTNL_SET_ELEM_FLAGS), element.flags) }
        nftnl_set_elem_add(set, e)
    }

    static func keyLength(_ key: [NFTDataType]) -> Int {
        key.count == 1 ? key[0].wire.length : key.reduce(0) { $0 + $1.wire.paddedLength }
    }
}

extension NFTOperation {
    /// Tables, sets and chains being created: the first phase of a delta.
    var creates: Bool {
        switch self {
        case .addTable, .addSet, .addChain: true
        default: false
        }
    }
}

extension NFTFamily {
    var protocolFamily: Int32 {
        switch self {
        case .bridge: Int32(NFPROTO_BRIDGE)
        case .inet: Int32(NFPROTO_INET)
        }
    }
}

extension NFTHook {
    /// NF_INET_* and NF_BR_* number their hooks alike.
    var number: UInt32 {
        switch self {
        case .prerouting: 0
        case .input: 1
        case .forward: 2
        case .output: 3
        case .postrouting: 4
        }
    }

    init?(number: UInt32) {
        switch number {
        case 0: self = .prerouting
        case 1: self = .input
        case 2: self = .forward
        case 3: self = .output
        case 4: self = .postrouting
        default: return nil
        }
    }
}

/// Scratch libnftnl objects naming one set or chain of a table, freed after use.
enum NFTObjects {
    static func withSet(_ table: NFTTableID, name: String?, _ body: (OpaquePointer) -> Void) {
        let s = nftnl_set_alloc()!
        defer { nftnl_set_free(s) }
        nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
        if let name { nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), name) }
        body(s)
    }

    static func withChain(_ table: NFTTableID, name: String?, _ body: (OpaquePointer) -> Void) {
        let c = nftnl_chain_alloc()!
        defer { nftnl_chain_free(c) }
        nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), table.name)
        if let name { nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), name) }
        body(c)
    }
}
