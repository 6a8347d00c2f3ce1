#!/usr/bin/python3
"""Draws the plots a benchmark's JSON asks for: `npm run plot -- bench/results/X.json [...]`.

Each JSON file may carry a top-level "plots" list of specifications (bench/plot-spec.ts):
  kind "timeseries": stacked panels over one x axis, labelled spans (phases) shaded on each;
  kind "bars": grouped bars, one group per category, optionally on a log scale.
Every plot is written as a PNG to its "file" (relative to the repository root). Needs
matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPAN_COLOURS = ["#dbe9f6", "#fde7c8", "#e0f0d9", "#f3dcef", "#eeeeee", "#fff5b8"]


def timeseries(spec):
    panels = spec["panels"]
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(10, 2.4 * len(panels) + 0.8))
    if len(panels) == 1:
        axes = [axes]
    x = spec["x"]["values"]
    spans = spec.get("spans", [])
    for ax, panel in zip(axes, panels):
        for i, span in enumerate(spans):
            ax.axvspan(span["from"], span["to"], color=SPAN_COLOURS[i % len(SPAN_COLOURS)], zorder=0)
        for series in panel["series"]:
            ax.plot(x, series["values"], label=series["label"], linewidth=1.2)
        ax.set_ylabel(panel["ylabel"])
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
    top = axes[0]
    for i, span in enumerate(spans):  # alternate heights, so labels of short neighbouring spans do not overlap
        top.annotate(span["label"], xy=((span["from"] + span["to"]) / 2, 1.0 + 0.09 * (i % 2)), xycoords=("data", "axes fraction"),
                     ha="center", va="bottom", fontsize="x-small", rotation=0)
    axes[-1].set_xlabel(spec["x"]["label"])
    fig.suptitle(spec["title"])
    return fig


def bars(spec):
    cats = spec["categories"]
    series = spec["series"]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cats) + 2), 4.5))
    width = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs = [c + (i - (len(series) - 1) / 2) * width for c in range(len(cats))]
        ax.bar(xs, s["values"], width=width, label=s["label"])
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels(cats, rotation=30, ha="right")
    if spec.get("log"):
        ax.set_yscale("symlog", linthresh=1)
    ax.set_ylabel(spec["ylabel"])
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(spec["title"])
    return fig


KINDS = {"timeseries": timeseries, "bars": bars}


def main(paths):
    if not paths:
        print("usage: npm run plot -- BENCH.json [...]  (draws the file's \"plots\" list)", file=sys.stderr)
        return 2
    drawn = 0
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        for spec in doc.get("plots", []):
            draw = KINDS.get(spec.get("kind"))
            if draw is None:
                print(f"{path}: skipping a plot of unknown kind {spec.get('kind')!r}", file=sys.stderr)
                continue
            fig = draw(spec)
            out = os.path.join(ROOT, spec["file"])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            fig.tight_layout()
            fig.savefig(out, dpi=110)
            plt.close(fig)
            print(f"wrote {spec['file']}")
            drawn += 1
    if drawn == 0:
        print("no plots in " + ", ".join(paths), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
