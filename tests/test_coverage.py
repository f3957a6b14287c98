"""Calibration-coverage report: removed routing mass per task/domain and kept-set overlap."""

from __future__ import annotations

import json

import pytest

from harness.report.coverage import coverage_report, jaccard, removed_mass


def test_removed_mass_and_jaccard_by_hand():
    mass = {0: [0.5, 0.25, 0.25], 1: [0.1, 0.2, 0.7]}
    assert removed_mass(mass, {0: {0, 1, 2}, 1: {0, 1, 2}}) == 0
    assert removed_mass(mass, {0: {0}, 1: {2}}) == pytest.approx((0.5 + 0.3) / 2)
    assert jaccard({0: {1, 2}, 1: {0}}, {0: {2, 3}, 1: {0}}) == pytest.approx((1 / 3 + 1) / 2)


def test_frequency_pruning_removes_less_in_domain_mass_than_random(tmp_path, capsys):
    from harness.cli.main import main
    from harness.gate.variants import default_calibration
    from harness.models.loading import resolve
    from harness.prune.sweep import SweepRequest, run_sweep

    model = resolve("tiny-moe")
    dirs = [
        r.path
        for r in run_sweep(
            model,
            SweepRequest(
                ["frequency", "random"],
                [0.5],
                [0],
                default_calibration("tiny-moe"),
            ),
            tmp_path / "v",
            tmp_path / "s",
            show_progress=False,
            log=lambda _m: None,
        )
    ]
    report = coverage_report(model, dirs, ["medinst", "mmlu"], model.path.parent / "data", limit=16)
    freq, rand = (report["variants"][d.name] for d in dirs)
    for v in (freq, rand):
        assert all(0.0 < m < 1.0 for m in v["removed_mass_per_task"].values())
        assert v["domain_lost_most"] in ("biomedical", "general")
    # frequency keeps the experts the biomedical calibration routed to most: less biomedical mass removed
    assert freq["removed_mass_per_task"]["medinst"] < rand["removed_mass_per_task"]["medinst"]
    assert 0.0 <= report["jaccard"][f"{dirs[0].name} vs {dirs[1].name}"] < 1.0
    assert main(["coverage", str(dirs[0]), "--task", "medqa", "--limit", "4", "--out", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["tasks"] == ["medqa"]
    assert main(["coverage", str(tmp_path)]) == 2 and "no pruning.json" in capsys.readouterr().err
