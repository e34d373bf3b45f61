import CNetlink
import HostModel

extension NFTConnection {
    /// The counters of every rule that has one, in the given tables (absent
    /// tables are left out). Two dumps: the chains, for their comments, and
    /// the rules; sets and elements are not read.
    public func counters(_ ids: [NFTTableID]) throws(NetlinkError) -> [NFTRuleCounter] {
        let present = try tables()
        var out: [NFTRuleCounter] = []
        for id in ids where present.contains(id) {
            out += try counters(id)
        }
        return out
    }

    private func counters(_ id: NFTTableID) throws(NetlinkError) -> [NFTRuleCounter] {
        var chainComments: [String: String] = [:]
        try forEachChain(of: id) { c, name in chainComments[name] = Self.comment(ofChain: c) }

        var out: [NFTRuleCounter] = []
        var positions: [String: Int] = [:]
        try forEachRule(of: id) { r, chain in
            let position = positions[chain, default: 0]
            positions[chain] = position + 1
            guard let (packets, bytes) = Self.counterValues(r) else { return }
            out.append(NFTRuleCounter(
                table: id, chain: chain, chainComment: chainComments[chain], position: position,
                ruleComment: Self.comment(ofRule: r), packets: packets, bytes: bytes))
        }
        return out
    }

    /// The values of the rule's counter expression, if it has one.
    private static func counterValues(_ r: OpaquePointer) -> (UInt64, UInt64)? {
        var found: (UInt64, UInt64)?
        withUnsafeMutablePointer(to: &found) { box in
            _ = nftnl_expr_foreach(r, { e, data in
                guard let e, let data, String(cString: nftnl_expr_get_str(e, UInt16(NFTNL_EXPR_NAME))) == "counter" else { return 0 }
                data.assumingMemoryBound(to: Optional<(UInt64, UInt64)>.self).pointee = (
                    nftnl_expr_get_u64(e, UInt16(NFTNL_EXPR_CTR_PACKETS)), nftnl_expr_get_u64(e, UInt16(NFTNL_EXPR_CTR_BYTES))
                )
                return 0
            }, box)
        }
        return found
    }
}
