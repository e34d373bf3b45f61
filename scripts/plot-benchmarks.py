#!/usr/bin/python3
"""Plots sgbench's kernel benchmarks (Debian's python3-matplotlib).

    scripts/plot-benchmarks.py [--apply bench-results/apply.json]
                               [--datapath bench-results/datapath.json]
                               [--out docs/benchmarks-kernel.svg]

Left: one port's change on a host (sgbench --apply-bench), median time per
variant, log scale. Middle and right: TCP throughput and request/response
latency between two VMs against the other ports loaded (sgbench --datapath).
The output format follows the file name (.svg or .png).
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = ["#1b9e77", "#66c2a5", "#d95f02", "#7570b3", "#e7298a", "#999999"]


def plot_apply(ax, report):
    rows = [r for r in report["rows"] if r["change"] != "reference"]
    changes = list(dict.fromkeys(r["change"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    width = 0.8 / len(variants)
    for v, variant in enumerate(variants):
        values = [next(r["medianMs"] for r in rows if r["change"] == c and r["variant"] == variant) for c in changes]
        xs = [c + (v - (len(variants) - 1) / 2) * width for c in range(len(changes))]
        ax.bar(xs, values, width, label=variant, color=COLOURS[v % len(COLOURS)])
    ax.set_yscale("log")
    top = max(r["medianMs"] for r in rows)
    ax.set_ylim(top=top * 30)  # room for the legend above the bars
    ax.set_xticks(range(len(changes)))
    ax.set_xticklabels([c.replace("group membership", "group\nmembership") for c in changes], fontsize=8)
    ax.set_ylabel("median ms (log scale)")
    params = report["parameters"]
    ax.set_title(f"One port's change, host with {params['ports']} ports", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)


def plot_datapath(ax_tput, ax_rr, report):
    rows = report["rows"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    # Sizes as evenly spaced categories: 0, 1,000 and 10,000 are a decade apart.
    sizes = sorted({r["otherPorts"] for r in rows})
    for v, variant in enumerate(variants):
        mine = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["otherPorts"])
        xs = [sizes.index(r["otherPorts"]) for r in mine]
        style = dict(label=variant, color=COLOURS[[0, 2, 5, 3][v % 4]], marker="o")
        ax_tput.plot(xs, [r["throughputGbps"] for r in mine], **style)
        ax_rr.plot(xs, [r["rrMeanUs"] for r in mine], **style)
    for ax, label, title in [
        (ax_tput, "TCP throughput, Gbit/s (iperf3)", "Throughput between two VMs"),
        (ax_rr, "request/response mean µs", "TCP request/response latency"),
    ]:
        ax.set_xlabel("other ports loaded on the host")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([f"{n:,}" for n in sizes])
        ax.grid(alpha=0.3, which="both")
    ax_tput.set_ylim(bottom=0)
    ax_rr.set_yscale("log")
    ax_rr.set_ylabel("request/response mean µs (log scale)")
    ax_tput.legend(fontsize=7)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", default="bench-results/apply.json")
    parser.add_argument("--datapath", default="bench-results/datapath.json")
    parser.add_argument("--out", default="docs/benchmarks-kernel.svg")
    args = parser.parse_args()

    reports = {}
    for name, path in [("apply", args.apply), ("datapath", args.datapath)]:
        if os.path.exists(path):
            with open(path) as f:
                reports[name] = json.load(f)
    if not reports:
        raise SystemExit("no benchmark results found; run sgbench --apply-bench --datapath first")

    panels = (1 if "apply" in reports else 0) + (2 if "datapath" in reports else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.6))
    axes = list(axes) if panels > 1 else [axes]
    if "apply" in reports:
        plot_apply(axes.pop(0), reports["apply"])
    if "datapath" in reports:
        plot_datapath(axes[0], axes[1], reports["datapath"])
    some = next(iter(reports.values()))
    fig.suptitle(f"sgbench kernel benchmarks — Linux {some['kernel']}, {some['processors']} cores, {some['date'][:10]}", fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
