"""The gate's modes, named once: the plugin's option choices and the typed fields of ``GateConfig`` and
``VariantSpec``. Light on purpose: the pytest entry point imports it in every pytest run."""

from __future__ import annotations

from typing import Literal, get_args

Calibration = Literal["biomedical", "dual"]  # dual: biomedical + general, one variant per calibration
Quant = Literal["none", "gptq-w4a16"]

CALIBRATIONS: tuple[str, ...] = get_args(Calibration)
QUANTS: tuple[str, ...] = get_args(Quant)
