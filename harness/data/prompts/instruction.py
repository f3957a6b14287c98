"""MedINST-style instruction records as one user turn (the reference study's rendering)."""

from __future__ import annotations


def instruction_prompt(instruction: str, text_input: str = "") -> str:
    """``instruction`` plus, when there is an input, a blank line and ``Input: <input>``."""
    return instruction + (f"\n\nInput: {text_input}" if text_input else "")
