"""Near-duplicate detection with exact ROUGE-L, made fast.

Self-Instruct drops a new instruction whose ROUGE-L F-measure with any pooled one exceeds 0.7. The
direct way is an O(n*m) dynamic programme against every pooled item. Here the LCS length is computed
bit-parallel (Hyyro 2004: one big-integer add per token), and pooled items are only examined when
they share tokens with the query and when ``2 * shared / (n + m)`` -- an upper bound on ROUGE-L F,
since the LCS can be no longer than the multiset overlap -- exceeds the threshold. The result is the
same number rouge-score's ``rougeL`` F-measure gives (lower-cased alphanumeric tokens, no stemming),
just without the quadratic work on pairs that cannot match.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

_TOKEN = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's default tokenisation: lower-case, alphanumeric runs."""
    return _TOKEN.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel over ``a``."""
    if not a or not b:
        return 0
    masks: dict[str, int] = defaultdict(int)
    for i, token in enumerate(a):
        masks[token] |= 1 << i
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - (v & full).bit_count()


def rouge_l(a: list[str], b: list[str]) -> float:
    """ROUGE-L F-measure of two token lists."""
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(b), lcs / len(a)
    return 2 * precision * recall / (precision + recall)


class NearDuplicateIndex:
    """A growing pool of texts; ``max_similarity`` is the highest ROUGE-L F against any of them."""

    def __init__(self, texts: list[str] = (), threshold: float = 0.7) -> None:
        self.threshold = threshold
        self._tokens: list[list[str]] = []
        self._counts: list[Counter] = []
        self._by_token: dict[str, list[int]] = defaultdict(list)
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._tokens)

    def add(self, text: str) -> None:
        tokens = rouge_tokens(text)
        index = len(self._tokens)
        self._tokens.append(tokens)
        counts = Counter(tokens)
        self._counts.append(counts)
        for token in counts:
            self._by_token[token].append(index)

    def max_similarity(self, text: str) -> float:
        """Highest ROUGE-L F of ``text`` against the pool: exact whenever it exceeds the threshold;
        pairs that provably cannot exceed it are skipped, so a result at or below it is a lower bound."""
        tokens = rouge_tokens(text)
        if not tokens:
            return 0.0
        counts = Counter(tokens)
        candidates = {i for token in counts for i in self._by_token.get(token, ())}
        best = 0.0
        for i in candidates:
            shared = sum((counts & self._counts[i]).values())
            if 2 * shared / (len(tokens) + len(self._tokens[i])) <= max(self.threshold, best):
                continue
            best = max(best, rouge_l(self._tokens[i], tokens))
        return best

    def is_near_duplicate(self, text: str) -> bool:
        return self.max_similarity(text) > self.threshold
