#!/usr/bin/python3
"""Send hand-made frames with scapy, e.g. spoofed ones.

  frames.py IFACE EXPR...

Each EXPR is a scapy expression for one frame, evaluated with scapy.all in
scope, e.g. "Ether(src='52:54:00:00:00:09', dst='ff:ff:ff:ff:ff:ff')/ARP(op=2, ...)".
The frames are sent in order, each twice, 50 ms apart. Prints "sent N".
"""
import sys
import time

from scapy.all import *  # noqa: F401,F403  (the expressions use scapy's names)
from scapy.all import conf, sendp


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    iface, expressions = sys.argv[1], sys.argv[2:]
    conf.verb = 0
    frames = [eval(e) for e in expressions]  # test code writes these, nothing else does
    for _ in range(2):
        for frame in frames:
            sendp(frame, iface=iface, verbose=False)
            time.sleep(0.05)
    print("sent", len(frames), flush=True)


if __name__ == "__main__":
    main()
