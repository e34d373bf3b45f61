/// One rule's counter as the kernel has it, with what names the rule: its
/// chain (and the chain's comment) and its own comment. Read apart from the
/// rules themselves: a counter's values are not part of the rule, so that a
/// ticking counter is never a difference between kernel and policy.
public struct NFTRuleCounter: Hashable, Sendable {
    public var table: NFTTableID
    public var chain: String
    public var chainComment: String?
    /// The rule's position in its chain, from 0.
    public var position: Int
    public var ruleComment: String?
    public var packets: UInt64
    public var bytes: UInt64

    public init(
        table: NFTTableID, chain: String, chainComment: String? = nil, position: Int, ruleComment: String? = nil,
        packets: UInt64, bytes: UInt64
    ) {
        self.table = table
        self.chain = chain
        self.chainComment = chainComment
        self.position = position
        self.ruleComment = ruleComment
        self.packets = packets
        self.bytes = bytes
    }
}
