#!/usr/bin/python3
"""Check policies/policy.schema.json and the example policies beside it.

Run from the repository root with Debian's python3 and python3-jsonschema
(no pip packages):

    /usr/bin/python3 policies/check-schema.py

It checks that
  * the schema is itself a valid draft 2020-12 schema;
  * every policies/examples/*.json has no duplicate JSON keys, validates
    against the schema, and passes the cross-reference rules of
    shared/policy-format.md that a schema cannot express (the `semantic`
    checks below: references, subnets, uniqueness, VTEPs, stateful mix...);
  * the example in shared/policy-format.md validates, when that file is
    beside the repository (as in CI);
  * a set of built-in invalid documents is rejected, by the schema or by the
    semantic checks, and a few valid edge cases are accepted.

One line per check, then "N passed, M failed"; the exit status is 1 when
anything failed.
"""

import copy
import glob
import ipaddress
import json
import os
import re
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.exit("check-schema.py: needs python3-jsonschema (apt-get install python3-jsonschema)")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCHEMA_PATH = os.path.join(HERE, "policy.schema.json")
EXAMPLES = sorted(glob.glob(os.path.join(HERE, "examples", "*.json")))
CONTRACT = os.path.join(os.path.dirname(REPO), "shared", "policy-format.md")

passed = 0
failed = 0


def report(ok, label, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {label}")
    else:
        failed += 1
        print(f"FAIL {label}" + (f": {detail}" if detail else ""))


# ---------------------------------------------------------------- loading

class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(f"duplicate JSON key {key!r}")
        seen[key] = value
    return seen


def load_json_text(text):
    return json.loads(text, object_pairs_hook=_no_duplicates)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return load_json_text(f.read())


def schema_errors(validator, doc):
    out = []
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path) or "(root)"
        out.append(f"{path.lstrip('.')}: {e.message}")
    return out


# ------------------------------------------- the rules a schema cannot say

PROTOCOL_NUMBERS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}
MAC_RE = re.compile(r"\A[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\Z")


def _mac_problem(mac):
    if not MAC_RE.match(mac):
        return "malformed MAC"
    octets = [int(x, 16) for x in mac.split(":")]
    if octets[0] & 1:
        return "multicast MAC"
    if not any(octets):
        return "all-zero MAC"
    return None


def _port_range_problem(text):
    m = re.fullmatch(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", text)
    if not m:
        return f"{text!r} is not a port or a port range N-M"
    low = int(m.group(1))
    high = int(m.group(2)) if m.group(2) is not None else low
    for p in (low, high):
        if not 1 <= p <= 65535:
            return f"port {p} in {text!r} is out of range 1-65535"
    if high < low:
        return f"port range {text!r} ends before it starts"
    return None


def semantic_errors(doc):
    """The validation rules of shared/policy-format.md beyond the schema, for a
    document that already passed the schema. Returns "path: problem" lines."""
    errs = []

    def err(path, msg):
        errs.append(f"{path}: {msg}")

    networks = doc.get("networks", [])
    hosts = doc.get("hosts", [])
    groups = doc.get("securityGroups", [])
    ports = doc.get("ports", [])

    def index(kind, items):
        table = {}
        for i, item in enumerate(items):
            if item["name"] in table:
                err(f"{kind}[{i}].name", f"duplicate name {item['name']!r}")
            else:
                table[item["name"]] = item
        return table

    net_by_name = index("networks", networks)
    host_by_name = index("hosts", hosts)
    group_by_name = index("securityGroups", groups)
    index("ports", ports)

    # networks: segments unique, subnets parse
    subnets_of = {}
    segments = {}
    for i, n in enumerate(networks):
        seg = n["segment"]
        key = (seg["type"], seg.get("id", seg.get("vni")))
        if key in segments:
            err(f"networks[{i}].segment", f"same segment as network {segments[key]!r}")
        else:
            segments[key] = n["name"]
        parsed = []
        for j, s in enumerate(n.get("subnets", [])):
            try:
                parsed.append(ipaddress.ip_network(s, strict=True))
            except ValueError as e:
                err(f"networks[{i}].subnets[{j}]", f"malformed CIDR: {e}")
        subnets_of[n["name"]] = parsed

    # hosts: vtep parses
    for i, h in enumerate(hosts):
        if "vtep" in h:
            try:
                ipaddress.ip_address(h["vtep"])
            except ValueError as e:
                err(f"hosts[{i}].vtep", f"malformed address: {e}")

    # groups and rules
    for i, g in enumerate(groups):
        for j, r in enumerate(g.get("rules", [])):
            path = f"securityGroups[{i}].rules[{j}]"
            proto = r.get("protocol", "any")
            proto = PROTOCOL_NUMBERS.get(proto, proto) if isinstance(proto, int) else proto
            if "ports" in r:
                if proto not in ("tcp", "udp", "sctp"):
                    err(f"{path}.ports", f"ports on protocol {proto!r}, which has none")
                plist = r["ports"] if isinstance(r["ports"], list) else [r["ports"]]
                for k, p in enumerate(plist):
                    problem = _port_range_problem(p)
                    if problem:
                        err(f"{path}.ports[{k}]", problem)
            if "icmp" in r and proto not in ("icmp", "icmpv6"):
                err(f"{path}.icmp", f"icmp on protocol {proto!r}")
            remote = r.get("remote", {})
            if "cidr" in remote:
                try:
                    net = ipaddress.ip_network(remote["cidr"], strict=True)
                    want = "ipv4" if net.version == 4 else "ipv6"
                    if r.get("ethertype", want) != want:
                        err(f"{path}.ethertype", f"{r['ethertype']} contradicts remote.cidr {remote['cidr']}")
                except ValueError as e:
                    err(f"{path}.remote.cidr", f"malformed CIDR: {e}")
            if "group" in remote and remote["group"] not in group_by_name:
                err(f"{path}.remote.group", f"unknown security group {remote['group']!r}")

    # ports
    devices = {}        # (host, device) -> port name
    macs = {}           # (network, mac) -> port name
    ips = {}            # (network, ip) -> port name
    hosts_on_net = {}   # network -> set of hosts with ports on it
    for i, p in enumerate(ports):
        path = f"ports[{i}]"
        if p["host"] not in host_by_name:
            err(f"{path}.host", f"unknown host {p['host']!r}")
        if p["network"] not in net_by_name:
            err(f"{path}.network", f"unknown network {p['network']!r}")
        hosts_on_net.setdefault(p["network"], set()).add(p["host"])

        if len(p["device"].encode("utf-8")) > 15:
            err(f"{path}.device", "longer than 15 bytes")
        key = (p["host"], p["device"])
        if key in devices:
            err(f"{path}.device", f"device {p['device']!r} already used by port {devices[key]!r} on {p['host']}")
        else:
            devices[key] = p["name"]

        problem = _mac_problem(p["mac"])
        if problem:
            err(f"{path}.mac", problem)
        key = (p["network"], p["mac"].lower())
        if key in macs:
            err(f"{path}.mac", f"MAC already used by port {macs[key]!r} on network {p['network']!r}")
        else:
            macs[key] = p["name"]

        for j, text in enumerate(p.get("ips", [])):
            try:
                ip = ipaddress.ip_address(text)
            except ValueError as e:
                err(f"{path}.ips[{j}]", f"malformed address: {e}")
                continue
            key = (p["network"], ip)
            if key in ips:
                err(f"{path}.ips[{j}]", f"IP {text} already used by port {ips[key]!r} on network {p['network']!r}")
            else:
                ips[key] = p["name"]
            subnets = subnets_of.get(p["network"], [])
            if subnets and not any(ip in s for s in subnets):
                err(f"{path}.ips[{j}]", f"IP {text} is outside the subnets of network {p['network']!r}")

        for j, pair in enumerate(p.get("allowedAddressPairs", [])):
            try:
                ipaddress.ip_network(pair["ip"], strict=True)
            except ValueError as e:
                err(f"{path}.allowedAddressPairs[{j}].ip", f"malformed address or CIDR: {e}")
            if "mac" in pair:
                problem = _mac_problem(pair["mac"])
                if problem:
                    err(f"{path}.allowedAddressPairs[{j}].mac", problem)

        statefulness = set()
        for j, name in enumerate(p.get("securityGroups", [])):
            if name not in group_by_name:
                err(f"{path}.securityGroups[{j}]", f"unknown security group {name!r}")
            else:
                statefulness.add(group_by_name[name].get("stateful", True))
        if len(statefulness) > 1:
            err(f"{path}.securityGroups", "mixes stateful and stateless groups")
        if p.get("portSecurity", True) is False and p.get("securityGroups"):
            err(f"{path}.securityGroups", "groups on a port with portSecurity false")

    # VTEPs: every host of a VXLAN network that spans two or more hosts
    for name, on_hosts in hosts_on_net.items():
        net = net_by_name.get(name)
        if not net or net["segment"]["type"] != "vxlan" or len(on_hosts) < 2:
            continue
        for i, h in enumerate(hosts):
            if h["name"] in on_hosts and "vtep" not in h:
                err(f"hosts[{i}].vtep", f"missing: host has ports on VXLAN network {name!r}, which spans {len(on_hosts)} hosts")
    return errs


# ------------------------------------------------------------------ checks

def main():
    try:
        schema = load_json(SCHEMA_PATH)
    except (OSError, ValueError) as e:
        report(False, "schema loads", str(e))
        return
    try:
        Draft202012Validator.check_schema(schema)
        report(True, "schema is a valid draft 2020-12 schema")
    except Exception as e:  # jsonschema.SchemaError
        report(False, "schema is a valid draft 2020-12 schema", str(e).splitlines()[0])
        return
    validator = Draft202012Validator(schema)

    def check_valid(label, doc):
        errs = schema_errors(validator, doc)
        report(not errs, f"schema accepts {label}", "; ".join(errs[:5]))
        if not errs:
            errs = semantic_errors(doc)
            report(not errs, f"semantic rules accept {label}", "; ".join(errs[:5]))

    # 1. the examples
    report(len(EXAMPLES) > 0, "examples found", "no policies/examples/*.json")
    example_docs = {}
    for path in EXAMPLES:
        label = "examples/" + os.path.basename(path)
        try:
            doc = load_json(path)
        except (OSError, ValueError) as e:
            report(False, f"{label} parses without duplicate keys", str(e))
            continue
        report(True, f"{label} parses without duplicate keys")
        example_docs[os.path.basename(path)] = doc
        check_valid(label, doc)

    # 2. the example in the contract itself, when shared/ is beside the repo
    if os.path.exists(CONTRACT):
        with open(CONTRACT, encoding="utf-8") as f:
            blocks = re.findall(r"```json\n(.*?)```", f.read(), re.S)
        if blocks:
            check_valid("the example in shared/policy-format.md", load_json_text(blocks[0]))
        else:
            report(False, "shared/policy-format.md has a json example")
    else:
        print(f"note shared/policy-format.md not found at {CONTRACT}; its example is not checked")

    # 3. documents the schema must reject, each one change from a valid base
    base = {
        "version": 1,
        "networks": [{"name": "blue", "segment": {"type": "vlan", "id": 100}, "subnets": ["10.1.0.0/24"]}],
        "hosts": [{"name": "hv1", "uplink": "eth1"}],
        "securityGroups": [{"name": "web", "rules": [
            {"direction": "ingress", "protocol": "tcp", "ports": "80", "remote": {"cidr": "0.0.0.0/0"}},
            {"direction": "egress"},
        ]}],
        "ports": [{"name": "vm1", "host": "hv1", "device": "tap-vm1", "network": "blue",
                   "mac": "52:54:00:00:01:01", "ips": ["10.1.0.11"], "securityGroups": ["web"]}],
    }
    check_valid("the built-in base document", base)

    def variant(change):
        doc = copy.deepcopy(base)
        change(doc)
        return doc

    def rule(doc):
        return doc["securityGroups"][0]["rules"][0]

    def port(doc):
        return doc["ports"][0]

    invalid = [
        ("unknown top-level field", lambda d: d.update(extra=True)),
        ("unknown port field", lambda d: port(d).update(tags=["x"])),
        ("unknown rule field", lambda d: rule(d).update(action="allow")),
        ("missing version", lambda d: d.pop("version")),
        ("version 2", lambda d: d.update(version=2)),
        ("vlan id 5000", lambda d: d["networks"][0]["segment"].update(id=5000)),
        ("vlan id 0", lambda d: d["networks"][0]["segment"].update(id=0)),
        ("vlan segment with a vni", lambda d: d["networks"][0]["segment"].update(vni=7)),
        ("vxlan vni 16777216", lambda d: d["networks"][0].update(segment={"type": "vxlan", "vni": 16777216})),
        ("segment type geneve", lambda d: d["networks"][0].update(segment={"type": "geneve", "vni": 7})),
        ("bad MAC 52:54:00:00:01", lambda d: port(d).update(mac="52:54:00:00:01")),
        ("bad MAC with dashes", lambda d: port(d).update(mac="52-54-00-00-01-01")),
        ("multicast MAC", lambda d: port(d).update(mac="01:00:5e:00:00:01")),
        ("all-zero MAC", lambda d: port(d).update(mac="00:00:00:00:00:00")),
        ("remote with both cidr and group", lambda d: rule(d).update(remote={"cidr": "10.0.0.0/8", "group": "web"})),
        ("empty remote", lambda d: rule(d).update(remote={})),
        ("ports \"0-\"", lambda d: rule(d).update(ports="0-")),
        ("ports [\"80\", \"443-\"]", lambda d: rule(d).update(ports=["80", "443-"])),
        ("ports as a number", lambda d: rule(d).update(ports=80)),
        ("ports on protocol icmp", lambda d: rule(d).update(protocol="icmp")),
        ("ports without a protocol", lambda d: rule(d).pop("protocol")),
        ("icmp on protocol tcp", lambda d: rule(d).update(icmp={"type": 8})),
        ("icmp code 256", lambda d: rule(d).update(protocol="icmp", icmp={"type": 3, "code": 256}) or rule(d).pop("ports")),
        ("protocol 256", lambda d: rule(d).update(protocol=256) or rule(d).pop("ports")),
        ("protocol \"gre\"", lambda d: rule(d).update(protocol="gre") or rule(d).pop("ports")),
        ("direction \"in\"", lambda d: rule(d).update(direction="in")),
        ("ethertype \"ip\"", lambda d: rule(d).update(ethertype="ip")),
        ("stateful \"yes\"", lambda d: d["securityGroups"][0].update(stateful="yes")),
        ("name starting with '-'", lambda d: d["securityGroups"][0].update(name="-web")),
        ("name of 64 characters", lambda d: d["hosts"][0].update(name="h" * 64)),
        ("device of 16 characters", lambda d: port(d).update(device="tap-0123456789ab")),
        ("device with '/'", lambda d: port(d).update(device="tap/vm1")),
        ("device with ':'", lambda d: port(d).update(device="eth0:1")),
        ("device with a space", lambda d: port(d).update(device="tap vm1")),
        ("port without mac", lambda d: port(d).pop("mac")),
        ("address pair without ip", lambda d: port(d).update(allowedAddressPairs=[{"mac": "52:54:00:00:01:02"}])),
        ("portSecurity false with groups", lambda d: port(d).update(portSecurity=False)),
        ("portSecurity \"false\"", lambda d: port(d).update(portSecurity="false")),
        ("log \"yes\"", lambda d: port(d).update(log="yes")),
        ("log on a port with portSecurity false", lambda d: (port(d).pop("securityGroups"), port(d).update(portSecurity=False, log=True))),
    ]
    for label, change in invalid:
        doc = variant(change)
        errs = schema_errors(validator, doc)
        report(bool(errs), f"schema rejects {label}", "accepted")

    # 4. valid edge cases the schema must accept
    def icmp_with_code(d):
        rule(d).update(protocol="icmpv6", icmp={"type": 1, "code": 4}, remote={"cidr": "::/0"})
        rule(d).pop("ports")

    accepted = [
        ("an empty policy {\"version\": 1}", lambda d: (d.clear(), d.update(version=1))),
        ("ports \"1-65535\" and a list", lambda d: rule(d).update(ports=["1-1023", "8000-8100"])),
        ("protocol 6 with ports", lambda d: rule(d).update(protocol=6)),
        ("icmpv6 type and code", icmp_with_code),
        ("remote group", lambda d: rule(d).update(remote={"group": "web"})),
        ("vxlan segment", lambda d: d["networks"][0].update(segment={"type": "vxlan", "vni": 16777215})),
        ("portSecurity false without groups", lambda d: (port(d).pop("securityGroups"), port(d).update(portSecurity=False))),
        ("log true on a filtered port", lambda d: port(d).update(log=True)),
        ("address pair with MAC", lambda d: port(d).update(allowedAddressPairs=[{"ip": "10.1.0.100", "mac": "52:54:00:00:01:02"}])),
        ("uppercase MAC", lambda d: port(d).update(mac="52:54:00:AB:CD:EF")),
    ]
    for label, change in accepted:
        check_valid(label, variant(change))

    # 5. documents that pass the schema but break a cross-reference rule:
    #    proves the semantic checks that vouch for the examples can fail
    def sem_variant(example, change):
        doc = copy.deepcopy(example_docs[example])
        change(doc)
        return doc

    web, tenants, vxlan = "two-tier-web.json", "two-tenants-identical-subnets.json", "vxlan-spanning-hosts.json"

    def mixed_stateful(d):
        d["securityGroups"].append({"name": "other", "stateful": True})
        d["ports"][2]["securityGroups"].append("other")

    semantic_invalid = [
        (web, "unknown group reference \"wbe\"", lambda d: d["ports"][1].update(securityGroups=["wbe"])),
        (web, "unknown remote group", lambda d: d["securityGroups"][0]["rules"][2].update(remote={"group": "bastoin"})),
        (web, "IP outside the network's subnets", lambda d: d["ports"][0]["ips"].append("10.21.0.5")),
        (web, "duplicate IP on one network", lambda d: d["ports"][1]["ips"].append("10.20.0.12")),
        (web, "duplicate MAC on one network", lambda d: d["ports"][1].update(mac="52:54:00:20:00:12")),
        (web, "duplicate device on one host", lambda d: d["ports"][3].update(device="tap-web-1")),
        (web, "port range \"443-80\"", lambda d: d["securityGroups"][0]["rules"][0].update(ports="443-80")),
        (web, "port 70000", lambda d: d["securityGroups"][0]["rules"][0].update(ports="70000")),
        (web, "ethertype contradicting remote.cidr", lambda d: d["securityGroups"][0]["rules"][1].update(ethertype="ipv4")),
        (tenants, "missing vtep on a spanning VXLAN network", lambda d: d["hosts"][1].pop("vtep")),
        (tenants, "port in stateful and stateless groups", mixed_stateful),
        (tenants, "two networks with one segment", lambda d: d["networks"][1]["segment"].update(vni=1001)),
        (vxlan, "duplicate group name", lambda d: d["securityGroups"][2].update(name="cluster")),
        (vxlan, "malformed subnet", lambda d: d["networks"][0]["subnets"].append("10.50.0.1/24")),
    ]
    for example, label, change in semantic_invalid:
        if example not in example_docs:
            report(False, f"semantic rules reject {label}", f"example {example} missing")
            continue
        doc = sem_variant(example, change)
        if schema_errors(validator, doc):
            report(False, f"semantic rules reject {label}", "the variant does not even pass the schema")
            continue
        report(bool(semantic_errors(doc)), f"semantic rules reject {label}", "accepted")


main()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
