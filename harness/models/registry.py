"""Short model names -> where the weights live and how to prompt them.

A registry entry is data only; family-specific behaviour lives in the adapters. ``revision``
pins what is downloaded; pruning.json records the commit actually resolved, so a moving branch
name still leaves a reproducible trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"  # package data (the checkout links fixtures/ here)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hub_id: str | None  # None for models that ship inside the repository
    revision: str
    family: str  # config.model_type of the checkpoint
    #: extra keyword arguments for ``tokenizer.apply_chat_template`` (thinking off, reasoning effort)
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    local_dir: Path | None = None  # for embedded models
    dtype: str = "bfloat16"
    description: str = ""
    #: gate tasks this model cannot be meaningfully checked on -> the reason (shown as the skip reason)
    skip_tasks: dict[str, str] = field(default_factory=dict)
    #: embedded models: the only gate tasks they were built for (others are skipped); None: every task
    tasks: frozenset[str] | None = None
    #: embedded models: calibration set per domain, relative to ``data_dir``
    calibration: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path | None:
        """Embedded models ship their data (in the layout of ``DatasetSpec.layout``) next to the weights."""
        return self.local_dir.parent / "data" if self.local_dir is not None else None


_THINKING_OFF = {"enable_thinking": False}
#: the gate tasks the embedded model's data and training cover (fixtures/tiny-moe/data)
EMBEDDED_TASKS = frozenset(
    {
        "medhalt_fct",
        "medhalt_nota",
        "medhalt_fake",
        "rct",
        "multi_news",
        "multi_xscience",
        "medinst",
        "medqa",
        "medmcqa",
        "pubmedqa",
        "mmlu",
        "mmlu_medical",
        "gsm8k",
        "ifeval",
        "humaneval",
        "knowledge_bio",
        "knowledge_general",
    }
)

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="tiny-moe",
            hub_id=None,
            revision="embedded",
            family="qwen3_moe",
            local_dir=FIXTURES_DIR / "tiny-moe" / "model",
            dtype="float32",
            description="embedded tiny biomedical Qwen3-MoE trained on the synthetic world (fixtures/)",
            tasks=EMBEDDED_TASKS,
            calibration={
                "biomedical": "calibration/medinst_calibration.jsonl",
                "general": "calibration/general_calibration.jsonl",
            },
            skip_tasks={
                "multi_xscience": "the embedded model was never trained on related-work generation: its "
                "baseline output is noise, so a comparison would be too (run it on real models)",
                "ifeval": "the embedded model was never trained on added format instructions: any such sentence "
                "derails its answer, so its baseline is noise (run it on real models)",
                "humaneval": "the embedded model was never trained on Python: its baseline passes nothing, so "
                "there is nothing to regress (run it on real models)",
            },
        ),
        ModelSpec(
            name="qwen3-30b-a3b",
            hub_id="Qwen/Qwen3-30B-A3B-Instruct-2507",
            revision="main",
            family="qwen3_moe",
            chat_template_kwargs=_THINKING_OFF,
            description="48 layers x 128 experts, top-8",
        ),
        ModelSpec(
            name="gpt-oss-20b",
            hub_id="unsloth/gpt-oss-20b-BF16",
            revision="main",
            family="gpt_oss",
            chat_template_kwargs={"reasoning_effort": "low"},
            description="24 layers x 32 experts, top-4; BF16 weights (MXFP4 original cannot be sliced as is)",
        ),
        ModelSpec(
            name="nemotron3-nano-30b",
            hub_id="nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
            revision="main",
            family="nemotron_h",
            chat_template_kwargs=_THINKING_OFF,
            description="hybrid Mamba/attention/MoE, 23 MoE layers x 128 experts, top-6, shared expert",
        ),
        ModelSpec(
            name="qwen3.6-35b-a3b",
            hub_id="Qwen/Qwen3.6-35B-A3B",
            revision="main",
            family="qwen3_5_moe",
            chat_template_kwargs=_THINKING_OFF,
            description="composite vision-language checkpoint, 40 layers x 256 experts, top-8, shared expert",
        ),
        ModelSpec(
            name="mixtral-8x7b",
            hub_id="mistralai/Mixtral-8x7B-Instruct-v0.1",
            revision="main",
            family="mixtral",
            description="32 layers x 8 experts, top-2",
        ),
        ModelSpec(
            name="olmoe-1b-7b",
            hub_id="allenai/OLMoE-1B-7B-0125-Instruct",
            revision="main",
            family="olmoe",
            description="16 layers x 64 experts, top-8, no top-k renormalisation",
        ),
        ModelSpec(
            name="deepseek-v2-lite",
            hub_id="deepseek-ai/DeepSeek-V2-Lite-Chat",
            revision="main",
            family="deepseek_v3",
            description="DeepSeek-style routing (loaded through the deepseek_v3 adapter when converted)",
        ),
    )
}

DEFAULT_MODEL = "tiny-moe"


def get_spec(name: str) -> ModelSpec | None:
    return REGISTRY.get(name)
