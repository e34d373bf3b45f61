@testable import Etcd
import Foundation
import Testing

/// The wire format, without etcd and without root. Lines marked "captured"
/// are what etcd 3.4.23's gateway sent (`curl -N .../v3/watch`).
struct EtcdWireTests {
    /// As `etcdctl get --prefix` computes it: the last byte below 0xff plus
    /// one, trailing 0xff dropped, "\0" (the end of the keyspace) if none is left.
    @Test(arguments: [
        (Array("/sg/".utf8), Array("/sg0".utf8)),
        ([0x61, 0x7f], [0x61, 0x80]),
        ([0x61, 0xff, 0xff], [0x62]),
        ([0xff], [0]),
        ([], [0]),
    ] as [([UInt8], [UInt8])])
    func prefixRangeEndIsThePrefixPlusOne(prefix: [UInt8], end: [UInt8]) {
        #expect(prefixRangeEnd(prefix) == end)
    }

    @Test func txnRequestEncoding() throws {
        let request = WireTxnRequest(
            compare: [WireCompare(.modRevision(key: "k", equals: 0)), WireCompare(.value(key: "k", equals: [1]))],
            success: [WireRequestOp(.put(key: "k", value: "v".bytes))],
            failure: [WireRequestOp(.getPrefix("p/"))])
        let json = String(decoding: try WireCoding.encode(request), as: UTF8.self)
        #expect(json == #"{"compare":[{"key":"aw==","mod_revision":"0","result":"EQUAL","target":"MOD"},"#
            + #"{"key":"aw==","result":"EQUAL","target":"VALUE","value":"AQ=="}],"#
            + #""failure":[{"request_range":{"key":"cC8=","range_end":"cDA="}}],"#
            + #""success":[{"request_put":{"key":"aw==","value":"dg=="}}]}"#)
    }

    @Test func txnResponseFillsInOmittedZeroValues() throws {
        // Captured: a failed txn has no "succeeded"; a key with an empty value has no "value".
        let captured = #"{"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"3","raft_term":"2"},"#
            + #""responses":[{"response_range":{"header":{"revision":"3"},"kvs":[{"key":"YQ==","create_revision":"2","#
            + #""mod_revision":"3","version":"2"}],"count":"1"}},{"response_delete_range":{"header":{"revision":"3"}}}]}"#
        let wire = try WireCoding.decode(WireTxnResponse.self, from: Array(captured.utf8))
        let result = try EtcdTxnResult(wire: wire, requestCount: 2)
        #expect(result == EtcdTxnResult(succeeded: false, revision: 3, responses: [
            .get([EtcdKeyValue(key: "a", value: [], createRevision: 2, modRevision: 3, version: 2)]),
            .delete(deleted: 0),
        ]))
    }

    @Test func watchLinesBecomeBatches() throws {
        var reader = WatchResponseReader(endpoint: try EtcdEndpoint("http://127.0.0.1:2379"))
        let created = #"{"result":{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"2"},"created":true}}"#
        let put = #"{"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"YQ==","create_revision":"2","#
            + #""mod_revision":"4","version":"3","value":"djQ="}}]}}"#
        let delete = #"{"result":{"header":{"revision":"5"},"events":[{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"5"}}]}}"#
        let progress = #"{"result":{"header":{"revision":"9"}}}"#

        #expect(try reader.read(Array(created.utf8)) == nil)
        #expect(try reader.read(Array(put.utf8)) == EtcdWatchBatch(revision: 4, events: [
            .put(EtcdKeyValue(key: "a", value: "v4".bytes, createRevision: 2, modRevision: 4, version: 3)),
        ]))
        #expect(try reader.read(Array(delete.utf8)) == EtcdWatchBatch(revision: 5, events: [
            .delete(key: "a", modRevision: 5),
        ]))
        #expect(try reader.read(Array(progress.utf8)) == EtcdWatchBatch(revision: 9, events: []))
        #expect(try reader.read([]) == nil)
    }

    @Test func watchEndings() throws {
        let endpoint = try EtcdEndpoint("http://127.0.0.1:2379")
        let created = Array(#"{"result":{"header":{"revision":"3"},"created":true}}"#.utf8)
        // Captured: compaction comes after "created", with no header revision.
        let compacted = #"{"result":{"header":{"cluster_id":"1","member_id":"2","raft_term":"2"},"canceled":true,"compact_revision":"3"}}"#
        // Captured at `kill -TERM` of etcd, without a trailing newline.
        let gone = #"{"error":{"grpc_code":14,"http_code":503,"message":"transport is closing","http_status":"Service Unavailable"}}"#
        let canceled = #"{"result":{"canceled":true,"cancel_reason":"permission denied"}}"#

        func ending(_ line: String) -> String {
            var reader = WatchResponseReader(endpoint: endpoint)
            do {
                _ = try reader.read(created)
                _ = try reader.read(Array(line.utf8))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(ending(compacted)
            == "etcd watch at http://127.0.0.1:2379: the start revision was compacted (oldest kept: 3); read again with a range")
        #expect(ending(gone)
            == "etcd watch at http://127.0.0.1:2379 disconnected: the gateway lost etcd: transport is closing (gRPC code 14)")
        #expect(ending(canceled) == "etcd watch at http://127.0.0.1:2379 was canceled by etcd: permission denied")
        #expect(ending("{oops").hasPrefix("etcd watch at http://127.0.0.1:2379: unexpected answer: "))
    }

    @Test func linesAreSplitAcrossChunks() throws {
        var splitter = LineSplitter()
        #expect(try splitter.split(appending: Array("{\"a\":".utf8)) == [])
        #expect(try splitter.split(appending: Array("1}\n{\"b\"".utf8)) == [Array("{\"a\":1}".utf8)])
        #expect(try splitter.split(appending: Array(":2}\n\n{".utf8)) == [Array("{\"b\":2}".utf8), []])
        #expect(splitter.remainder == Array("{".utf8))
    }

    @Test func nonUTF8KeysAreReportedNotReplaced() {
        #expect(throws: WireMappingError.self) {
            try EtcdKeyValue(wire: WireKeyValue(key: WireBytes([0xff, 0xfe]), value: nil))
        }
    }

    @Test func configurationMistakesFailInit() {
        #expect(throws: EtcdError.self) { try EtcdClient(endpoints: []) }
        do {
            _ = try EtcdClient(endpoints: ["127.0.0.1:2379"])
            Issue.record("an endpoint without a scheme should be refused")
        } catch {
            #expect("\(error)" == #"etcd endpoint "127.0.0.1:2379" is invalid: it must start with http:// or https://"#)
        }
        do {
            _ = try EtcdClient(endpoints: ["http://127.0.0.1:2379"], tls: EtcdTLS(caFile: "/nonexistent/ca.crt"))
            Issue.record("TLS files with an http endpoint should be refused")
        } catch {
            #expect("\(error)".contains("TLS files were given, so it must be https://"))
        }
        do {
            _ = try EtcdClient(endpoints: ["https://127.0.0.1:2379"], tls: EtcdTLS(caFile: "/nonexistent/ca.crt"))
            Issue.record("a missing CA file should be refused")
        } catch {
            #expect("\(error)".hasPrefix("etcd TLS: cannot load /nonexistent/ca.crt: "))
        }
    }

    @Test func endpointsKeepSchemeHostAndPort() throws {
        #expect(try EtcdEndpoint("https://etcd1:2379/").url("/v3/kv/range") == "https://etcd1:2379/v3/kv/range")
        #expect(throws: EtcdError.self) { try EtcdEndpoint("http://etcd1:2379/v3") }
    }
}
