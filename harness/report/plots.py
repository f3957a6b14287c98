"""Utility and reliability relative to the baseline across pruning ratios, one line per method
(the study's figures 2-6), one PNG per category."""

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
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), squeeze=False)
        for ax, name in zip(axes[0], names):
            lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for c in rows:
                if c["check"] == name:
                    base = c["baseline"] or 1e-9
                    lines[c["parameters"]["method"]].append((float(c["parameters"]["ratio"]), c["value"] / base))
            for method, points in sorted(lines.items()):
                xs, ys = zip(*sorted(points))
                ax.plot(xs, ys, marker="o", label=method)
            ax.axhline(1.0, color="grey", lw=0.8, ls="--")
            ax.set_title(name, fontsize=8)
            ax.set_xlabel("pruning ratio", fontsize=7)
            ax.tick_params(labelsize=7)
        axes[0][0].set_ylabel("variant / baseline", fontsize=7)
        axes[0][-1].legend(fontsize=6)
        fig.tight_layout()
        path = out_dir / f"plot-{category}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
