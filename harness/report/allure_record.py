"""What each gate test leaves in Allure: parameters, metrics, worst examples side by side, fact-check spans.

Run-varying values (paths, library versions) are excluded from the history id, so a check of the
same variant is one history line across runs. Without allure-pytest active this does nothing.
"""

from __future__ import annotations

import json

from harness.gate.verdict import CheckVerdict


def record(verdict: CheckVerdict) -> None:
    try:
        import allure
    except ImportError:  # allure-pytest not installed: nothing to record
        return
    for key, value in verdict.parameters.items():
        allure.dynamic.parameter(key, value)
    allure.dynamic.parameter("check", verdict.check)
    allure.dynamic.feature(verdict.category)
    allure.dynamic.story(verdict.check)
    allure.dynamic.tag(verdict.domain)
    allure.dynamic.description(verdict.description)
    if verdict.extra.get("weak_evidence"):
        allure.dynamic.tag("weak judge agreement")
        allure.dynamic.description(
            f"{verdict.description}. WEAK EVIDENCE: the judges agree little (mean Cohen's "
            f"kappa {verdict.extra['mean_cohen_kappa']:.2f} < 0.4)"
        )
    metrics = {k: v for k, v in verdict.as_dict().items() if k not in ("worst", "records")}
    allure.attach(json.dumps(metrics, indent=2), "metrics.json", allure.attachment_type.JSON)
    if verdict.worst:
        rows = "".join(
            f"<tr><td>{_esc(w['id'])}</td><td>{_esc(w['baseline_output'])}</td><td>{_esc(w['variant_output'])}</td>"
            f"<td>{w['baseline_value']:.3f} &rarr; {w['variant_value']:.3f}</td></tr>"
            for w in verdict.worst
        )
        allure.attach(
            f"<table border=1><tr><th>item</th><th>baseline</th><th>variant</th><th>value</th></tr>{rows}</table>",
            "worst examples",
            allure.attachment_type.HTML,
        )
        spans = [{"id": w["id"], "findings": w["fact_check"]["findings"]} for w in verdict.worst if "fact_check" in w]
        if spans:
            allure.attach(json.dumps(spans, indent=2), "fact-check spans.json", allure.attachment_type.JSON)


def _esc(value: object) -> str:
    import html

    return html.escape(str(value))
