"""The six saliency metrics, each a function of the calibration statistics of one layer.

Definitions (t over calibration tokens, K_t the router's top-k, g the weights the model applies):

    random     uniform scores from a generator seeded by (seed, layer): reproducible, data-free
    frequency  share of tokens routed to expert i              sum_t 1[i in K_t] / T
    gate       mean routing weight given to expert i           sum_t 1[i in K_t] g_it / T
    ean        mean output norm over the EAN token sample, every expert evaluated
    reap       mean over the tokens ROUTED to i of g_it ||E_i(h_t)||   (the REAP paper's mean, not
               the reference code's sum); an expert never routed scores 0
    easy_ep    sum_t 1[i in K_t] g_it ||E_i(h_t)|| (1 - cos(h_t, h~_t)) / T, with h_t the experts'
               input and h~_t = h_t + the routed experts' weighted output ("before and after routed
               experts", EASY-EP section 3); shared experts are outside h~ and never scored

Dividing by the domain's token count T does not change a single domain's ranking; it makes the
scores per-token expectations so that dual-domain calibration can average the per-domain scores
with equal weight, however many tokens each domain has (the paper averages per-domain scores).
"""

from __future__ import annotations

import hashlib
from typing import Callable

import torch

from harness.prune.stats import CalibrationStats, LayerStats

Metric = Callable[[LayerStats], torch.Tensor]


def _per_token(name: str) -> Metric:
    return lambda st: st.sums[name] / max(st.tokens, 1)


def _ean(st: LayerStats) -> torch.Tensor:
    return st.sums["ean"] / max(st.ean_tokens, 1)


def _reap(st: LayerStats) -> torch.Tensor:
    freq = st.sums["freq"]
    return torch.where(freq > 0, st.sums["reap"] / freq.clamp(min=1), torch.zeros_like(freq))


DATA_METRICS: dict[str, Metric] = {
    "frequency": _per_token("freq"),
    "gate": _per_token("gate"),
    "ean": _ean,
    "reap": _reap,
    "easy_ep": _per_token("easy_ep"),
}
METHODS: tuple[str, ...] = ("random", *DATA_METRICS)  # the default set: scores from one calibration pass
#: methods that search kept sets instead of scoring experts (``harness.prune.reconstruction``); opt-in
SEARCH_METHODS: tuple[str, ...] = ("naee",)
ALL_METHODS: tuple[str, ...] = (*METHODS, *SEARCH_METHODS)
_ALIASES = {"easy-ep": "easy_ep", "easyep": "easy_ep", "gating": "gate", "freq": "frequency"}


def canonical_method(name: str) -> str:
    """Normalise user spellings (``easy-ep``, ``easyep``) to the canonical method name."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in ALL_METHODS:
        raise ValueError(f"unknown pruning method {name!r}; choose from {', '.join(ALL_METHODS)}")
    return key


def random_scores(seed: int, layer: int, num_experts: int) -> torch.Tensor:
    digest = hashlib.sha256(f"moegate-random:{seed}:{layer}".encode()).digest()
    gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
    return torch.rand(num_experts, generator=gen, dtype=torch.float64)


def layer_scores(method: str, stats: CalibrationStats | None, layer: int, num_experts: int,
                 seed: int) -> torch.Tensor:
    """Scores of one layer's experts (original indexing); higher means more salient."""
    method = canonical_method(method)
    if method == "random":
        return random_scores(seed, layer, num_experts)
    if stats is None or not stats.layers:
        raise ValueError(f"method {method} needs calibration statistics")
    metric = DATA_METRICS[method]
    per_domain = [metric(stats.layers[d][layer]) for d in stats.domains]
    return torch.stack(per_domain).mean(dim=0)
