"""Cost and chance support of the derivation rules (harness.metrics.support) on real-format sources.

For every RCT and Multi-News+ source of ../shared/data/real-format-samples: derived values built,
build time, time per summary check, and the CHANCE SUPPORT rate: the share of random numbers that
some rule supports although the source never implies them (200 whole numbers 1-1000, 200 one-decimal
percentages), i.e. how often an invented number of that form would slip through.

    .venv/bin/python benchmarks/bench_factcheck.py [--samples DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from harness.metrics.factcheck import check
from harness.metrics.factcheck_eval import Sources
from harness.metrics.support import SourceFacts


def _sources(root: Path) -> dict[str, list[str]]:
    from harness.data import multi_news

    sources = Sources(root)
    rct_ids = [
        line.split(",")[1]
        for line in (root / "rct" / "reconstructed" / "test-targets.csv").read_text().splitlines()[1:]
        if line.count(",") >= 2 and line.split(",")[1].startswith("CD")
    ]
    news = []
    for split in ("test", "val", "train"):
        news += [
            "\n\n".join(c.documents)
            for c in multi_news.load(root / "multi_news_plus" / "cleansed_data", split).clusters
        ]
    return {"rct": [sources.rct(i) for i in dict.fromkeys(rct_ids)], "multi_news": news}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--samples", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "real-format-samples"
    )
    args = parser.parse_args()
    rnd = random.Random(0)
    print(
        "| dataset | sources | numbers / source | derived / source | build ms | check ms | chance: whole numbers "
        "| chance: 1-decimal % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, texts in _sources(args.samples).items():
        numbers, derived, build, per_check, whole, percent = [], [], [], [], [], []
        for text in texts:
            t0 = time.perf_counter()
            facts = SourceFacts(text)
            build.append(time.perf_counter() - t0)
            numbers.append(len(facts.quantities))
            derived.append(facts.derived_count)
            ints = [rnd.randint(1, 1000) for _ in range(200)]
            pcts = [rnd.randint(1, 999) / 10 for _ in range(200)]
            summary_int = " ".join(f"Group sizes were {v} in all." for v in ints)
            summary_pct = " ".join(f"The share was {v:.1f}% in all." for v in pcts)
            t0 = time.perf_counter()
            found_int = check(summary_int, text)
            per_check.append((time.perf_counter() - t0) / len(ints) * 20)  # a 20-number summary
            found_pct = check(summary_pct, text)
            stated = {q.value for q in facts.quantities}
            whole.append(
                sum(
                    n.rule in ("sum", "difference", "ratio", "rounding")
                    for n, v in zip(found_int.numbers, ints)
                    if v not in stated
                )
                / len(ints)
            )
            percent.append(
                sum(
                    n.rule in ("percentage", "difference", "rounding")
                    for n, v in zip(found_pct.numbers, pcts)
                    if v not in stated
                )
                / len(pcts)
            )
        print(
            f"| {name} | {len(texts)} | {statistics.mean(numbers):.0f} | {statistics.mean(derived):.0f} | "
            f"{1000 * statistics.mean(build):.1f} | {1000 * statistics.mean(per_check):.1f} | "
            f"{statistics.mean(whole):.3f} | {statistics.mean(percent):.3f} |"
        )


if __name__ == "__main__":
    main()
