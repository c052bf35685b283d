"""Perplexity and bits per character / byte, from a summed negative log-likelihood.

A language model assigns each unit x_t of a text (a word, subword or character) the probability
p(x_t | x_<t).  With N units::

    NLL = -sum_t ln p(x_t | x_<t)            (nats; also the loss summed over the tokens)
    PPL = exp(NLL / N)                       (1 / geometric mean of the probabilities)
    bits per unit = NLL / (N ln 2) = log2 PPL

Perplexities from different tokenisations are NOT comparable.  ``NLL`` is (for a model that can
spell every string) ``-ln p(text)`` whatever the units, but N is not: a character model divides by
about five times as many units as a word model, so its PPL is far smaller for the same model quality
(~3 for characters against ~100 for words on the same English).  Compare models by dividing the total
NLL of the *same* text by a count that does not depend on the tokeniser:

- words of a fixed word segmentation: ``perplexity(total_nll, n_words)`` ("word-level perplexity" of
  a subword or character model);
- characters or UTF-8 bytes: :func:`bits_per_char`, :func:`bits_per_byte` (the usual figures for
  enwik8 / text8-style character models).

Two further traps: a word-level model that maps rare words to ``<unk>`` scores a different, easier
text than a model that spells them out, and any normalisation (lower-casing, detokenising) changes
the text itself.
"""

from __future__ import annotations

import math
import numbers
import sys

_MAX_LOG = math.log(sys.float_info.max)  # exp of anything larger overflows


def _check(total_nll: float, n_units: int, unit: str) -> None:
    if not isinstance(n_units, numbers.Integral) or isinstance(n_units, bool) or n_units <= 0:
        raise ValueError(f"need a positive integer number of {unit}, got {n_units!r}")
    if math.isnan(total_nll) or total_nll < 0:
        raise ValueError(f"total NLL must be >= 0 (a sum of -ln p), got {total_nll!r}")


def perplexity(total_nll: float, n_tokens: int) -> float:
    """``exp(total_nll / n_tokens)``; ``inf`` when that overflows a float."""
    _check(total_nll, n_tokens, "tokens")
    mean = float(total_nll) / int(n_tokens)
    return math.exp(mean) if mean <= _MAX_LOG else math.inf


def bits_per_char(total_nll: float, n_chars: int) -> float:
    """``total_nll / (n_chars ln 2)``: the NLL of a text in bits, per character of that text."""
    _check(total_nll, n_chars, "characters")
    return float(total_nll) / (int(n_chars) * math.log(2))


def bits_per_byte(total_nll: float, n_bytes: int) -> float:
    """``total_nll / (n_bytes ln 2)``: per UTF-8 byte (``len(text.encode())``), for byte-level models."""
    _check(total_nll, n_bytes, "bytes")
    return float(total_nll) / (int(n_bytes) * math.log(2))
