"""MedINST32 metrics as ``aialt/MedINST/evaluation.py`` defines them (reimplemented), plus chrF++.

Per sample then averaged: ROUGE-L F (rouge-score, stemmed), SQuAD token F1, exact match, entity F1
over outermost ``[...]`` spans with multiset matching (no gold and no prediction scores 0, as
upstream), multi-label F1 for Hallmarks. Corpus level: label macro-F1 (sklearn, labels = gold set),
BIO tag macro-F1, BIOSSES MSE. chrF++ (sacrebleu, word_order=2) is our addition for translation:
MedINST itself reports only ROUGE-L and token F1 there.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

ARTICLES = re.compile(r"\b(a|an|the)\b")
TASK_GROUPS = {
    "cls": ("BioASQ-Task-B-yesno", "PubMedQA-labeled", "SciFact", "ManConCorpus", "CoVERt", "MedDialog"),
    "em": ("MedQA", "MeDAL"),
    "bio": ("NCBI-disease", "BC5CDR"),
    "multicls": ("Hallmarks-of-Cancer",),
    "mse": ("BIOSSES",),
    "translation": ("ParaMed",),
}


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, gold: str) -> float:
    return _rouge().score(gold, prediction)["rougeL"].fmeasure


def chrf_pp(prediction: str, gold: str) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=2).sentence_score(prediction, [gold]).score / 100.0


def entities(text: str) -> list[str]:
    """Outermost bracketed spans, normalised; nested brackets stay inside; a stray ']' resets."""
    spans, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "]":
            if depth == 0:
                continue
            depth -= 1
            if depth == 0:
                spans.append(normalize_answer(text[start:i]))
    return spans


def multiset_f1(pred: Sequence[str], gold: Sequence[str]) -> float:
    p, g = Counter(pred), Counter(gold)
    tp = sum((p & g).values())
    fp, fn = sum((p - g).values()), sum((g - p).values())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def entity_f1(prediction: str, gold: str) -> float:
    return multiset_f1(entities(prediction), entities(gold))


def multicls_f1(prediction: str, gold: str) -> float:
    split = lambda s: [x.strip().lower() for x in s.split(", ") if x.strip()]  # noqa: E731
    return multiset_f1(split(prediction), split(gold))


def label_macro_f1(predictions: Sequence[str], golds: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    preds, refs = [normalize_answer(p) for p in predictions], [normalize_answer(g) for g in golds]
    return float(f1_score(refs, preds, labels=sorted(set(refs)), average="macro", zero_division=0))


BIO_TAG = re.compile(r"\[([BIO])\]")


def bio_macro_f1(predictions: Sequence[str], golds: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    preds, refs = [], []
    for p, g in zip(predictions, golds, strict=True):
        gold_tags, pred_tags = BIO_TAG.findall(g), BIO_TAG.findall(p)
        pred_tags = (pred_tags + ["N"] * len(gold_tags))[: len(gold_tags)]
        refs += gold_tags
        preds += pred_tags
    return float(f1_score(refs, preds, labels=sorted(set(refs)), average="macro", zero_division=0))


def sts_mse(predictions: Sequence[str], golds: Sequence[str]) -> float:
    def value(text: str) -> int | None:
        found = re.findall(r"\d+", text)
        return int(found[0]) if len(found) == 1 and 0 <= int(found[0]) <= 5 else None

    total = 0.0
    for p, g in zip(predictions, golds, strict=True):
        pv, gv = value(p), value(g)
        pv, gv = (5, 0) if pv is None or gv is None else (pv, gv)
        total += (pv - gv) ** 2
    return total / len(golds) if golds else 0.0


def score_task(task: str, predictions: Sequence[str], golds: Sequence[str]) -> dict[str, float]:
    """All metrics MedINST reports for ``task`` (plus chrF++ for translation)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{task}: {len(predictions)} predictions for {len(golds)} references")
    n = max(len(golds), 1)
    out = {"rouge_l": sum(map(rouge_l, predictions, golds)) / n, "f1": sum(map(token_f1, predictions, golds)) / n}
    if task in TASK_GROUPS["cls"]:
        out["label_macro_f1"] = label_macro_f1(predictions, golds)
    elif task in TASK_GROUPS["em"]:
        out["em"] = sum(map(exact_match, predictions, golds)) / n
    elif task in TASK_GROUPS["bio"]:
        out["bio_macro_f1"] = bio_macro_f1(predictions, golds)
    elif task in TASK_GROUPS["multicls"]:
        out["multicls_f1"] = sum(map(multicls_f1, predictions, golds)) / n
    elif task in TASK_GROUPS["mse"]:
        out["mse"] = sts_mse(predictions, golds)
    elif task in TASK_GROUPS["translation"]:
        out["chrf_pp"] = sum(map(chrf_pp, predictions, golds)) / n
    elif task not in ("Multi-XScience",):
        out["entity_f1"] = sum(map(entity_f1, predictions, golds)) / n
    return out
