#!/usr/bin/env python3
"""A TCP request/response ping-pong, like netperf's TCP_RR (netperf is not in
Debian main): one connection, one byte each way per transaction, Nagle off.

    tcp-rr.py server --port 7000                  # serves connections one after another
    tcp-rr.py client --host 10.250.0.12 --port 7000 --count 20000 --seconds 3
    tcp-rr.py probe --host 10.250.0.12 --port 7001   # prints open, refused or timeout (1 s)

The client prints JSON: transactions, mean/p50/p99/max latency in microseconds
and transactions per second. The first 10% of transactions warm up and are not
counted (nor more than 10% of --seconds); it stops after --count transactions or --seconds, whichever comes
first (a slow path would otherwise take minutes). sgbench runs it inside network namespaces for its datapath benchmark.
"""
import argparse
import json
import socket
import sys
import time


def serve(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(4)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while True:
                data = conn.recv(1)
                if not data:
                    break
                conn.sendall(data)


def client(host, port, count, seconds):
    conn = socket.create_connection((host, port), timeout=5)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    warmup = count // 10
    samples = []
    clock = time.perf_counter_ns
    send, recv = conn.sendall, conn.recv
    # Warm-up ends after 10% of the transactions or 10% of the time.
    began = clock()
    warm_until = began + int(seconds * 1e8)
    deadline = began + int(seconds * 1e9)
    for i in range(warmup + count):
        now = clock()
        if i < warmup and now > warm_until:
            warmup = i
        if i > warmup and now > deadline:
            break
        start = clock()
        send(b"x")
        if not recv(1):
            sys.exit("server closed the connection")
        if i >= warmup:
            samples.append(clock() - start)
    conn.close()
    samples.sort()
    count = len(samples)
    total = sum(samples)
    pick = lambda p: samples[min(len(samples) - 1, max(0, -(-len(samples) * p // 100) - 1))]
    print(json.dumps({
        "transactions": count,
        "mean_us": total / count / 1000,
        "p50_us": pick(50) / 1000,
        "p99_us": pick(99) / 1000,
        "max_us": samples[-1] / 1000,
        "per_second": count / (total / 1e9),
    }))


def probe(host, port):
    """A filter that drops shows as a timeout; no listener behind no filter as refused."""
    try:
        socket.create_connection((host, port), timeout=1).close()
        print("open")
    except ConnectionRefusedError:
        print("refused")
    except OSError:
        print("timeout")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["server", "client", "probe"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7000)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.mode == "server":
        serve(args.port)
    elif args.mode == "client":
        client(args.host, args.port, args.count, args.seconds)
    else:
        probe(args.host, args.port)


if __name__ == "__main__":
    main()
