"""Tokenisation with Hugging Face ``tokenizers``: byte-level BPE, as GPT-2, or one token per character.

Byte-level BPE (Radford et al. 2019, GPT-2 §2.2; Sennrich et al. 2016 for BPE) starts from the 256
byte values, so every string is encodable and nothing maps to "unknown"; merges of frequent pairs
then grow the vocabulary up to ``vocab_size``.  The trained tokenizer is saved as ``tokenizer.json``,
which ``tokenizers.Tokenizer.from_file`` and ``transformers`` both read.

A character tokenizer (:func:`train_char`) maps each character seen in training to one token and every
other character to ``<unk>``: a small vocabulary, long sequences (char-RNN/GPT experiments).

Special tokens come first, so their ids are fixed: ``<pad>`` = 0, ``<eos>`` = 1, ``<cls>`` = 2,
``<sep>`` = 3, ``<mask>`` = 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from minilm.errors import UserError

SPECIAL_TOKENS = ("<pad>", "<eos>", "<cls>", "<sep>", "<mask>")
PAD, EOS, CLS, SEP, MASK = range(len(SPECIAL_TOKENS))
UNK_TOKEN = "<unk>"  # the character tokenizer's token for characters never seen in training


def train_bpe(lines: Iterable[str], vocab_size: int = 1024) -> Tokenizer:
    """Train a byte-level BPE tokenizer on ``lines`` (deterministic for the same lines)."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise UserError(
            f"--vocab_size={vocab_size}: byte-level BPE needs at least {256 + len(SPECIAL_TOKENS)}"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def train_char(lines: Sequence[str]) -> Tokenizer:
    """A character tokenizer: the special tokens (ids 0-4), ``<unk>`` (id 5) for characters never seen
    in training, then every distinct training character, sorted.  Saved as a ``tokenizer.json`` like the
    BPE one (decoding joins the characters)."""
    chars = sorted(set("".join(lines)))
    specials = [*SPECIAL_TOKENS, UNK_TOKEN]
    vocab = {token: i for i, token in enumerate(specials + chars)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), "isolated")  # every character
    tokenizer.decoder = decoders.Fuse()
    tokenizer.add_special_tokens(specials)
    return tokenizer


def load_tokenizer(path: Path) -> Tokenizer:
    """A ``tokenizer.json`` (ours or a Hugging Face one), with padding and truncation switched off.

    A file may carry its own (all-MiniLM-L6-v2's pads every encoding to 128 tokens); minilm pads and
    cuts where it builds batches, so every tokenizer file is read here and every command tokenises
    the same way."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file (the tokenizer)")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises a bare Exception on a malformed file
        raise UserError(f"{path}: not a readable tokenizer.json ({e})") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def encode_stream(tokenizer: Tokenizer, lines: Sequence[str]) -> np.ndarray:
    """All lines as one token stream, each line followed by ``<eos>``: (N,) int32."""
    ids = [e.ids + [EOS] for e in tokenizer.encode_batch(list(lines))]
    return np.fromiter((t for row in ids for t in row), dtype=np.int32)


def pad_id(tokenizer: Tokenizer) -> int:
    """The id that fills padded positions: minilm's ``<pad>``, else the tokenizer's ``[PAD]`` or
    ``<pad>``, else 0 (the attention mask, not the id, says what is padding)."""
    if _ours(tokenizer):
        return PAD
    return next((i for t in ("[PAD]", "<pad>") if (i := tokenizer.token_to_id(t)) is not None), 0)


def _ours(tokenizer: Tokenizer) -> bool:
    return tokenizer.token_to_id("<pad>") == PAD and tokenizer.token_to_id("<eos>") == EOS


def encode_padded(tokenizer: Tokenizer, texts: Sequence[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text as one row of ``max_len`` tokens, right-padded: tokens (N, max_len) int32 and
    attention_mask (N, max_len) int32 (1 = real token).

    minilm's tokenizers: the text cut to ``max_len - 1`` tokens + ``<eos>``, padded with ``<pad>`` (a
    GPT classifier pools the last real token, the ``<eos>`` that has seen the whole text).  Another
    tokenizer (a Hugging Face folder's) adds its own special tokens (BERT: ``[CLS] .. [SEP]``); a row
    that is too long keeps its first tokens and its closing special token, and pads with
    :func:`pad_id`.
    """
    ours = _ours(tokenizer)
    tokens = np.full((len(texts), max_len), pad_id(tokenizer), dtype=np.int32)
    mask = np.zeros((len(texts), max_len), dtype=np.int32)
    for i, enc in enumerate(tokenizer.encode_batch(list(texts))):
        if ours:
            row = enc.ids[: max_len - 1] + [EOS]
        elif len(enc.ids) > max_len and enc.special_tokens_mask[-1]:
            row = enc.ids[: max_len - 1] + enc.ids[-1:]
        else:
            row = enc.ids[:max_len]
        tokens[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return tokens, mask


HF_END_OF_TEXT = "<|endoftext|>"  # GPT-2's only special token


def segment_specials(tokenizer: Tokenizer, causal: bool, pair: bool) -> tuple[list[int], ...]:
    """The special tokens around one text (begin, end) or a pair (begin, middle, end).

    ================  ========================  ==================================================
    backbone          one text                  a pair (segment 0 | segment 1)
    ================  ========================  ==================================================
    BERT (HF)         [CLS] a [SEP]             [CLS] a [SEP] | b [SEP]        (Devlin et al. 2019)
    BERT (minilm)     <cls> a <sep>             <cls> a <sep> | b <sep>        (as pretrained)
    GPT (minilm)      a <eos>                   a <sep> b <eos>                (Radford et al. 2018)
    GPT-2 (HF)        a                         a <|endoftext|> b
    ================  ========================  ==================================================

    GPT's delimiter (Radford et al. 2018, fig. 1) was a new learned token; minilm's vocabulary has
    ``<sep>`` from the start, and GPT-2's only special token, ``<|endoftext|>``, stands in for it.
    A GPT classifier pools the last token (``<eos>``: the "extract" token of fig. 1)."""
    if _ours(tokenizer):
        begin, middle, end = ([], [SEP], [EOS]) if causal else ([CLS], [SEP], [SEP])
    elif causal:
        delimiter = tokenizer.token_to_id(HF_END_OF_TEXT)
        if pair and delimiter is None:
            raise UserError(
                f"the backbone's tokenizer.json has no {HF_END_OF_TEXT}: "
                "a GPT-2 needs it between the texts of a pair"
            )
        begin, middle, end = [], [delimiter], []
    else:
        ids = [tokenizer.token_to_id(name) for name in ("[CLS]", "[SEP]")]
        if None in ids:
            raise UserError("the backbone's tokenizer.json has no [CLS] or [SEP]: a BERT needs both")
        begin, middle, end = ids[:1], ids[1:], ids[1:]
    return (begin, middle, end) if pair else (begin, end)


def encode_segments(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    max_len: int,
    *,
    causal: bool,
    seconds: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Texts, or pairs ``(texts[i], seconds[i])``, as rows of ``max_len`` tokens with the backbone's
    special tokens (:func:`segment_specials`), right-padded with :func:`pad_id`:

        tokens, attention_mask, token_types   (N, max_len) int32

    ``token_types`` is 0 up to and including the first separator, 1 after it (BERT's segment
    embeddings; a GPT has none and ignores it).  A pair that is too long is cut longest-first (as
    ``transformers``' ``truncation="longest_first"``: a token off the longer text, the second on a
    tie, until it fits), so both texts keep tokens: with room for ``r`` text tokens, the first keeps
    ``min(len_a, max(r - len_b, ceil(r / 2)))`` and the second the rest.
    """
    pair = seconds is not None
    specials = segment_specials(tokenizer, causal, pair)
    room = max_len - sum(len(s) for s in specials)  # text tokens per row
    if room < (2 if pair else 1):
        raise UserError(f"--max_len={max_len} leaves no room for the text between the special tokens")
    firsts = [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    others = [e.ids for e in tokenizer.encode_batch(list(seconds), add_special_tokens=False)] if pair else []
    out = {
        "tokens": np.full((len(firsts), max_len), pad_id(tokenizer), dtype=np.int32),
        "attention_mask": np.zeros((len(firsts), max_len), dtype=np.int32),
        "token_types": np.zeros((len(firsts), max_len), dtype=np.int32),
    }
    for i, a in enumerate(firsts):
        if pair:
            b = others[i]
            if len(a) + len(b) > room:
                keep_a = min(len(a), max(room - len(b), -(-room // 2)))
                a, b = a[:keep_a], b[: room - keep_a]
            begin, middle, end = specials
            segment_0, segment_1 = begin + a + middle, b + end
        else:
            begin, end = specials
            segment_0, segment_1 = begin + a[:room] + end, []
        row = segment_0 + segment_1
        out["tokens"][i, : len(row)] = row
        out["attention_mask"][i, : len(row)] = 1
        out["token_types"][i, len(segment_0) : len(row)] = 1
    return out
