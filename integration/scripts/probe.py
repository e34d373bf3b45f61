#!/usr/bin/python3
"""Traffic endpoints for the integration tests (no scapy: starts fast).

Run inside a VM namespace (`ip netns exec VM probe.py ...`). Every client
exits 0 when the traffic got through and 1 when it didn't, and prints one
line saying what happened; servers print "ready" once they listen and then
one line per event, flushed, until they are killed or --seconds pass.

  serve [--tcp PORTS] [--udp PORTS] [--raw PROTOS] [--icmp] [--seconds N]
      PORTS/PROTOS: comma-separated numbers or N-M ranges. TCP and UDP
      servers echo what they receive; raw and icmp only log.
      Events: "tcp PORT SRC SPORT", "udp PORT SRC SPORT DATA", "raw PROTO SRC DATA",
      "icmp TYPE SRC", "icmp6 TYPE SRC".
  tcp HOST PORT [--sport N] [--timeout S]     connect, send a line, get it echoed
  udp HOST PORT [--sport N] [--timeout S]     send a datagram, wait for the echo
  hold HOST PORT [--sport N] [--interval S] [--timeout S]
      keep one TCP connection: every interval send a line and wait for its
      echo; prints "connected", then "ok N" per echo, and "broken: WHY" when
      an echo does not come back in time (then exits 3).
  raw HOST PROTO [--data TEXT]                send one IP packet of protocol PROTO
  icmp HOST TYPE [--code N] [--data TEXT]     send one ICMP (or ICMPv6) message
"""
import argparse
import select
import socket
import struct
import sys
import threading
import time


def say(*parts):
    print(*parts, flush=True)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def numbers(spec):
    out = []
    for part in filter(None, (spec or "").split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# ---------------------------------------------------------------- servers

def serve(args):
    sockets = {}
    for port in numbers(args.tcp):
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
            s.listen(16)
            sockets[s] = ("tcp", port)
    for port in numbers(args.udp):
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
            sockets[s] = ("udp", port)
    for proto in numbers(args.raw):
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
        sockets[s] = ("raw", proto)
    if args.icmp:
        sockets[socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)] = ("icmp", 0)
        sockets[socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)] = ("icmp6", 0)
    say("ready")
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        readable, _, _ = select.select(list(sockets), [], [], 0.2)
        for s in readable:
            kind, number = sockets[s]
            if kind == "tcp":
                conn, peer = s.accept()
                say("tcp", number, peer[0], peer[1])
                threading.Thread(target=echo_stream, args=(conn,), daemon=True).start()
            elif kind == "udp":
                data, peer = s.recvfrom(2048)
                say("udp", number, peer[0], peer[1], data.decode(errors="replace").strip())
                s.sendto(data, peer)
            elif kind == "raw":
                data, peer = s.recvfrom(65535)
                header = (data[0] & 0x0F) * 4
                say("raw", number, peer[0], data[header:].decode(errors="replace").strip())
            elif kind == "icmp":
                data, peer = s.recvfrom(65535)
                header = (data[0] & 0x0F) * 4
                say("icmp", data[header], peer[0])
            else:  # icmp6: the kernel strips the IPv6 header
                data, peer = s.recvfrom(65535)
                say("icmp6", data[0], peer[0])


def echo_stream(conn):
    with conn:
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)
        except OSError:
            return


# ---------------------------------------------------------------- clients

def connect(args):
    s = socket.socket(family(args.host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.sport:
        s.bind(("::" if family(args.host) == socket.AF_INET6 else "0.0.0.0", args.sport))
    s.settimeout(args.timeout)
    s.connect((args.host, args.port))
    return s


def exchange(s, line):
    s.sendall(line)
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed by peer")
        got += chunk
    if got != line:
        raise ConnectionError("echo mismatch %r" % got)


def tcp(args):
    try:
        with connect(args) as s:
            exchange(s, b"probe\n")
    except (OSError, ConnectionError) as e:
        say("blocked:", e)
        return 1
    say("open")
    return 0


def udp(args):
    s = socket.socket(family(args.host), socket.SOCK_DGRAM)
    if args.sport:
        s.bind(("::" if family(args.host) == socket.AF_INET6 else "0.0.0.0", args.sport))
    s.settimeout(args.timeout)
    try:
        s.sendto(b"probe\n", (args.host, args.port))
        data, _ = s.recvfrom(2048)
    except OSError as e:
        say("no reply:", e)
        return 1
    say("reply", data.decode(errors="replace").strip())
    return 0


def hold(args):
    try:
        s = connect(args)
    except OSError as e:
        say("broken: connect:", e)
        return 3
    say("connected", s.getsockname()[1])
    n = 0
    while True:
        n += 1
        try:
            exchange(s, b"line %d\n" % n)
        except (OSError, ConnectionError) as e:
            say("broken:", e or "timeout")
            return 3
        say("ok", n)
        time.sleep(args.interval)


def raw(args):
    s = socket.socket(family(args.host), socket.SOCK_RAW, args.proto)
    s.sendto(args.data.encode(), (args.host, 0))
    say("sent")
    return 0


def icmp(args):
    fam = family(args.host)
    proto = socket.IPPROTO_ICMPV6 if fam == socket.AF_INET6 else socket.IPPROTO_ICMP
    s = socket.socket(fam, socket.SOCK_RAW, proto)
    body = struct.pack("!HH", 0x5347, 1) + args.data.encode()
    header = struct.pack("!BBH", args.type, args.code, 0)
    if fam == socket.AF_INET:  # the kernel fills in ICMPv6 checksums itself
        header = struct.pack("!BBH", args.type, args.code, checksum(header + body))
    s.sendto(header + body, (args.host, 0))
    say("sent")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--tcp")
    p.add_argument("--udp")
    p.add_argument("--raw")
    p.add_argument("--icmp", action="store_true")
    p.add_argument("--seconds", type=float, default=120)
    p.set_defaults(run=serve)
    for name, run in (("tcp", tcp), ("udp", udp), ("hold", hold)):
        p = sub.add_parser(name)
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("--sport", type=int)
        p.add_argument("--timeout", type=float, default=1.0)
        p.add_argument("--interval", type=float, default=0.2)
        p.set_defaults(run=run)
    p = sub.add_parser("raw")
    p.add_argument("host")
    p.add_argument("proto", type=int)
    p.add_argument("--data", default="probe")
    p.set_defaults(run=raw)
    p = sub.add_parser("icmp")
    p.add_argument("host")
    p.add_argument("type", type=int)
    p.add_argument("--code", type=int, default=0)
    p.add_argument("--data", default="probe")
    p.set_defaults(run=icmp)
    args = parser.parse_args()
    sys.exit(args.run(args) or 0)


if __name__ == "__main__":
    main()
