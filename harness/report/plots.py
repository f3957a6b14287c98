"""Utility and reliability relative to the baseline across pruning ratios, one line per method
(the study's figures 2-6), one PNG per category. The y axis is the difference variant - baseline
(a ratio is undefined where the baseline scores 0, e.g. number fidelity of a model that never copies)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def ratio_curves(checks: list[dict], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for category in ("utility", "reliability"):
        rows = [c for c in checks if c["category"] == category]
        if not rows:
            continue
        names = sorted({c["check"] for c in rows})
        cols = min(4, len(names))
        nrows = -(-len(names) // cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(3.4 * cols, 2.8 * nrows), squeeze=False)
        flat = [ax for row in axes for ax in row]
        for ax in flat[len(names) :]:
            ax.set_visible(False)
        for ax, name in zip(flat, names):
            lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for c in rows:
                if c["check"] == name:
                    lines[c["parameters"]["method"]].append((float(c["parameters"]["ratio"]), c["delta"]))
            for method, points in sorted(lines.items()):
                xs, ys = zip(*sorted(points))
                ax.plot(xs, ys, marker="o", label=method)
            ax.axhline(0.0, color="grey", lw=0.8, ls="--")
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("pruning ratio", fontsize=7)
            ax.tick_params(labelsize=7)
        for row in axes:
            row[0].set_ylabel("variant - baseline", fontsize=7)
        flat[0].legend(fontsize=6)
        fig.tight_layout()
        path = out_dir / f"plot-{category}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
