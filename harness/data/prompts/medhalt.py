"""Med-HALT reasoning prompts (v0), reproduced from the official repository.

Source: github.com/medhalt/medhalt @ 3dfe1e4, ``medhalt/prompts/{FCT,Nota,fake}/prompts.json``
(prompt_version "v0") and the item formatter ``medhalt/prompts/utils.py::Nota_format``, which is
used for all three tasks. Zero-shot assembly: ``{prompt}\\n{output_format}\\n`` + item.
"""

from __future__ import annotations

from collections.abc import Mapping

FCT_PROMPT = (
    "You are a highly intelligent and accurate medical domain expert and a teacher. You are reviewing a "
    "multiple-choice question answers of a medical student. You are given questions, options, and answers "
    "provided by the colleague.There is a possibility that the student's answer could be wrong. Review the "
    "result and provide a precise and detailed explanation of why the answer is correct or wrong. "
    "Additionally, you also provide why the other options are not correct. Ensure that the explanation is "
    "detailed and accurate. Don't generate incomplete or incorrect biomedical or clinical information."
)
FCT_OUTPUT_FORMAT = (
    "Your output format is valid JSON format {'is_answer_correct': yes/no ,'answer': 'correct answer', "
    "'why_correct': 'detailed explanation why it correct', 'why_others_incorrect': 'why other options are "
    "incorrect'} no other format."
)
NOTA_PROMPT = (
    "You are a highly intelligent and accurate medical domain expert. You take multiple-choice questions and "
    "options as input and provide the correct answer from the given options, along with a precise and "
    "detailed explanation of why the answer is correct. Additionally, you also provide why the other options "
    "are not correct. If you think that none of the options are correct, select none of the above option "
    "from the list. Ensure that the explanation is detailed and accurate. Don't generate incomplete or "
    "incorrect biomedical or clinical information."
)
FAKE_PROMPT = (
    "You are a highly intelligent and accurate medical domain expert. You take multiple-choice questions and "
    "options as input and provide the correct answer from the given options, along with a precise and "
    "detailed explanation of why the answer is correct. Additionally, you also provide why the other options "
    "are not correct. Ensure that the explanation is detailed and accurate. Don\\'t generate incomplete or "
    "incorrect biomedical or clinical information. If you don\\'t know the answer, just say \"I do not "
    "know\", don\\'t try to make up an answer."
)
COP_OUTPUT_FORMAT = (
    "Your output format is valid JSON format {'cop': 'correct option from given options', 'cop_index' : "
    "'index of correct option', 'why_correct': 'detailed explanation why it correct', "
    "'why_others_incorrect': 'why other options are incorrect'} no other format."
)

TASKS: dict[str, tuple[str, str]] = {
    "fct": (FCT_PROMPT, FCT_OUTPUT_FORMAT),
    "nota": (NOTA_PROMPT, COP_OUTPUT_FORMAT),
    "fake": (FAKE_PROMPT, COP_OUTPUT_FORMAT),
}


def format_item(question: str, options: Mapping[str, str]) -> str:
    """``Nota_format``: the item as a Python dict repr, then ``Output:``."""
    return f"Input: { ({'Question': question, 'Options': dict(options)})!r}\nOutput: "


def build_prompt(task: str, question: str, options: Mapping[str, str]) -> str:
    prompt, output_format = TASKS[task]
    return f"{prompt}\n{output_format}\n{format_item(question, options)}"
