"""Render the Allure HTML report from allure-pytest results, carrying history between runs.

Allure 3 (npm ``allure``, no Java) is preferred; Allure 2 (npm ``allure-commandline``, needs Java)
is used when that is what is installed. ``scripts/setup-report.sh`` installs Allure 3 into
``.tools/``. History: the previous report's ``history/`` is copied into the results first (Allure 2)
and Allure 3 keeps a JSONL history file next to the reports, so trends show across runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HISTORY_FILE = "history.jsonl"


def find_allure() -> tuple[Path, int]:
    """(executable, major version) of the Allure CLI to use."""
    candidates = [Path(os.environ["MOEGATE_ALLURE"])] if os.environ.get("MOEGATE_ALLURE") else []
    candidates += [REPO_ROOT / ".tools" / "node_modules" / ".bin" / "allure"]
    found = shutil.which("allure")
    candidates += [Path(found)] if found else []
    for exe in candidates:
        if exe.exists():
            out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
            version = (out.stdout or out.stderr).strip()
            return exe, int(version.split(".")[0]) if version[:1].isdigit() else 3
    raise FileNotFoundError(
        "no Allure CLI found: run `bash scripts/setup-report.sh` (npm allure 3 into .tools/), "
        "or put `allure` on PATH, or set MOEGATE_ALLURE"
    )


def render(results: Path, out: Path) -> Path:
    """Generate ``out/index.html`` from ``results``; returns the index path."""
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise FileNotFoundError(f"{results}: no allure-pytest results (run pytest with --alluredir {results})")
    exe, major = find_allure()
    if major >= 3:
        history = out.parent / HISTORY_FILE
        out.parent.mkdir(parents=True, exist_ok=True)
        config = out.parent / "allurerc.json"
        config.write_text(json.dumps({"name": "moegate gate", "output": str(out), "historyPath": str(history)}))
        cmd = [str(exe), "generate", str(results), "--config", str(config)]
    else:
        if (out / "history").is_dir():
            shutil.copytree(out / "history", results / "history", dirs_exist_ok=True)
        cmd = [str(exe), "generate", str(results), "-o", str(out), "--clean"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not (out / "index.html").is_file():
        raise RuntimeError(f"allure generate failed ({' '.join(cmd)}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return out / "index.html"


MIN_NODE_FOR_QUALITY_GATE = 22


def node_major() -> int:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    return int(out.lstrip("v").split(".")[0]) if out[1:2].isdigit() else 0


def quality_gate(results: Path) -> tuple[bool, str]:
    """Allure 3's own quality gate on ``results`` with the gate's rule (no failed test: every failed test is
    a blocking check), as (passed, Allure's message). Allure 2 has no quality gate: refused with that."""
    exe, major = find_allure()
    if major < 3:
        raise RuntimeError(f"{exe} is Allure {major}: quality gates need Allure 3 (bash scripts/setup-report.sh)")
    node = node_major()
    if node < MIN_NODE_FOR_QUALITY_GATE:  # its rule check uses Iterator helpers (a TypeError on older Node)
        raise RuntimeError(
            f"Allure 3's quality gate needs Node {MIN_NODE_FOR_QUALITY_GATE}+ (Iterator.prototype.toArray); this "
            f"machine has Node {node}. The gate's own verdict (pytest's exit code, verdict.json) is unaffected"
        )
    with tempfile.TemporaryDirectory(prefix="moegate-quality-gate-") as tmp:  # its report files stay out of cwd
        config = Path(tmp) / "allurerc.json"
        config.write_text(json.dumps({"output": tmp, "qualityGate": {"rules": [{"maxFailures": 0}]}}))
        cmd = [str(exe), "quality-gate", str(results.resolve()), "--config", str(config), "--cwd", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
