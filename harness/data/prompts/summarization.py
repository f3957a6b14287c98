"""Summarisation prompts of the reference study (arXiv 2607.01444, appendix B).

Source: gucci-j/moe-pruning-reliability @ e572e6c, ``evaluation/src/generate_rct_summaries.py`` and
``generate_multi_news_summaries.py``; single user turn.
"""

from __future__ import annotations

from collections.abc import Sequence

RCT_INSTRUCTION = (
    "You are a medical evidence summarization assistant. Given a randomized controlled trial abstract, write a "
    "concise factual summary in 2-4 sentences. Do not include information that is not supported by the abstract."
)
NEWS_INSTRUCTION = (
    "You are a news summarization assistant. Given documents from multiple news sources about the same event, "
    "write a concise factual summary in 2-4 sentences. Do not include information that is not supported by the source."
)


def rct_source_block(review_id: str, articles: Sequence[tuple[str, str, str]]) -> str:
    """``ReviewID: X`` then one ``Article i`` block per (pmid, title, abstract), values stripped."""
    blocks = [
        f"Article {i}\nPMID: {str(pmid).strip()}\nTitle: {title.strip()}\nAbstract: {abstract.strip()}"
        for i, (pmid, title, abstract) in enumerate(articles, start=1)
    ]
    return f"ReviewID: {review_id}\n\n" + "\n\n".join(blocks)


def rct_prompt(source: str) -> str:
    return f"{RCT_INSTRUCTION}\n\nSource documents:\n{source}\n\nSummary:"


def news_prompt(documents: Sequence[str]) -> str:
    source = "\n\n".join(d for d in documents if d)
    return f"{NEWS_INSTRUCTION}\n\nSource documents:\n{source}\n\nSummary:"
