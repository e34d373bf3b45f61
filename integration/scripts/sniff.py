#!/usr/bin/python3
"""Watch one interface for frames that carry given markers (no scapy: starts fast).

  sniff.py IFACE MARKER... [--seconds N]

Opens a raw AF_PACKET socket on IFACE (it sees every frame the interface
receives, whatever the IP stack then does with it), prints "ready", then
"seen MARKER" the first time a received frame contains MARKER's bytes.
A marker is ASCII text, or hex bytes written as "hex:0a000005".
Runs until killed or --seconds pass.
"""
import argparse
import socket
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("iface")
    parser.add_argument("markers", nargs="+")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    wanted = {}
    for m in args.markers:
        wanted[m] = bytes.fromhex(m[4:]) if m.startswith("hex:") else m.encode()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((args.iface, 0))
    s.settimeout(0.2)
    print("ready", flush=True)
    deadline = time.monotonic() + args.seconds
    while wanted and time.monotonic() < deadline:
        try:
            frame, address = s.recvfrom(65535)
        except socket.timeout:
            continue
        if address[2] == PACKET_OUTGOING:
            continue
        for name, pattern in list(wanted.items()):
            if pattern in frame:
                print("seen", name, flush=True)
                del wanted[name]


if __name__ == "__main__":
    main()
