#!/usr/bin/python3
"""Plots the control-plane benchmark (sgbench --controller), Debian's python3-matplotlib.

    scripts/plot-controller.py [--input bench-results/compile-controller.json]
                               [--out docs/controller-latency.svg]

One group of bars per kind of change: the incremental controller's p50 and
p99 latency beside the naive way (index the new policy, compile every host,
diff), on a log scale, with the hosts each change touched.
"""
import argparse
import json
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", default="bench-results/compile-controller.json")
    parser.add_argument("--out", default="docs/controller-latency.svg")
    args = parser.parse_args()
    with open(args.input) as f:
        report = json.load(f)
    rows = report["rows"]
    shape = report["shape"]

    fig, ax = plt.subplots(figsize=(11, 4.8))
    xs = range(len(rows))
    width = 0.27
    ax.bar([x - width for x in xs], [r["p50"] for r in rows], width, label="controller p50", color="#1b9e77")
    ax.bar(xs, [r["p99"] for r in rows], width, label="controller p99", color="#66c2a5")
    ax.bar([x + width for x in xs], [r["naiveMedian"] or float("nan") for r in rows], width,
           label="naive: compile every host + diff (median)", color="#d95f02")
    ax.axhline(1.0, color="#444444", linestyle="--", linewidth=0.8, label="target: 1 ms")
    for x, r in zip(xs, rows):
        ax.annotate(f"{r['hostsTouchedMean']:.1f} hosts", (x - width, r["p50"]), textcoords="offset points",
                    xytext=(0, 3), ha="center", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([textwrap.fill(r["kind"], 16) for r in rows], fontsize=8)
    ax.set_ylabel("ms per change (log scale)")
    ax.set_title(f"One change, {shape['hosts']:,} hosts / {shape['ports']:,} ports / {shape['groups']:,} groups", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, 0.93))
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
