"""Contextual vectors of words in sentences, and how well they tell a word's senses apart.

ELMo's point (Peters et al. 2018, §5.3): the same word gets a different vector in each context, so
"bank" by a river and "bank" with money land apart, where a static vector (word2vec, or the biLM's own
layer 0) is one point for both.  :func:`sentence_layers` runs a trained :class:`~minilm.models.elmo.BiLM`
over sentences and returns every word's L+1 layers; :func:`sense_separation` scores leave-one-out
nearest-neighbour sense accuracy of the contextual and the static vectors on labelled examples
(the generated world's polysemous words, :func:`minilm.data.world.sense_examples`).
"""

from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from minilm.data.bilm import EOS, Vocab
from minilm.errors import UserError
from minilm.models.elmo import BiLM, char_ids, elmo_layers
from minilm.objectives.evaluate import batched_apply


def sentence_batch(
    sentences: list[list[str]], vocab: Vocab, max_chars: int | None, width: int
) -> dict[str, np.ndarray]:
    """Rows ``<eos> w_1 .. w_n <eos>`` (the boundaries the biLM saw in training), padded to (S, width):
    word k of sentence b is at [b, k + 1]."""
    index, unk = vocab.index, len(vocab.words) - 1
    tokens = np.zeros((len(sentences), width), dtype=np.int32)
    lengths = np.zeros(len(sentences), dtype=np.int32)
    chars = None if max_chars is None else np.zeros((len(sentences), width, max_chars), dtype=np.int32)
    for b, words in enumerate(sentences):
        row = [EOS, *words, EOS]
        tokens[b, : len(row)] = [index.get(t, unk) for t in row]
        lengths[b] = len(row)
        if chars is not None:
            chars[b, : len(row)] = char_ids(row, max_chars)
    batch = {"tokens": tokens, "lengths": lengths}
    if chars is not None:
        batch["chars"] = chars
    return batch


def sentence_layers(
    model: BiLM, vocab: Vocab, sentences: list[list[str]], chunk: int = 64
) -> list[np.ndarray]:
    """The L+1 ELMo layers of every word of every sentence: one (n_words, L+1, 2P) array per sentence.

    Sentences go through in fixed-size padded batches, so there is one compiled function."""
    graphdef, state = nnx.split(model)
    max_chars = model.cfg.max_chars if model.cfg.encoder == "char" else None
    # (b, T) rows -> (b, L+1, T, 2P): rows first, as batched_apply concatenates them
    layers_of = jax.jit(lambda s, batch: jnp.moveaxis(elmo_layers(nnx.merge(graphdef, s), batch), 0, 1))
    width = max(len(words) for words in sentences) + 2
    rows = sentence_batch(sentences, vocab, max_chars, width)
    layers = batched_apply(functools.partial(layers_of, state), rows, chunk)  # (S, L+1, T, 2P)
    return [layers[b, :, 1 : len(words) + 1].transpose(1, 0, 2) for b, words in enumerate(sentences)]


def static_vectors(model: BiLM, vocab: Vocab) -> np.ndarray:
    """The context-free token vector x of every vocabulary word (ELMo layer 0): (V, E)."""
    if model.cfg.encoder == "word":
        return np.asarray(model.encoder.table[...])
    return np.asarray(jax.jit(model.encoder)(char_ids(list(vocab.words), model.cfg.max_chars)))


def mix(layers: np.ndarray, layer: str) -> np.ndarray:
    """(..., L+1, D) -> (..., D): "mix" = the scalar mix at initialisation (the average), or one layer."""
    if layer == "mix":
        return layers.mean(axis=-2)
    if not layer.isdigit() or int(layer) >= layers.shape[-2]:
        raise UserError(f"--layer={layer}: expected 'mix' or a layer number 0..{layers.shape[-2] - 1}")
    return layers[..., int(layer), :]


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def nearest_sense_accuracy(vectors: np.ndarray, senses: list[str]) -> float:
    """Leave-one-out 1-nearest-neighbour (cosine) accuracy: how often an example's nearest other
    example has its sense.  Identical vectors (a static embedding) tie everywhere and score at chance."""
    u = unit(vectors)
    sim = u @ u.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1)
    labels = np.array(senses)
    return float(np.mean(labels[nearest] == labels))


def sense_separation(model: BiLM, vocab: Vocab, examples: list[dict], layer: str = "mix") -> dict[str, float]:
    """Per polysemous word, nearest-sense accuracy of its ELMo vectors and of its static (layer 0)
    vector, averaged over words; ``chance`` is the same for a random neighbour."""
    layers = sentence_layers(model, vocab, [e["sentence"].split() for e in examples])
    vectors = np.stack([sent[e["index"]] for sent, e in zip(layers, examples, strict=True)])  # (N, L+1, 2P)
    scores = collections.defaultdict(list)
    for word in sorted({e["word"] for e in examples}):
        idx = [i for i, e in enumerate(examples) if e["word"] == word]
        senses = [examples[i]["sense"] for i in idx]
        scores["contextual"].append(nearest_sense_accuracy(mix(vectors[idx], layer), senses))
        scores["static"].append(nearest_sense_accuracy(vectors[idx, 0], senses))
        counts = np.array(list(collections.Counter(senses).values()))
        scores["chance"].append(float(np.sum(counts * (counts - 1)) / (len(idx) * (len(idx) - 1))))
    return {k: float(np.mean(v)) for k, v in scores.items()}


def static_neighbours(word: str, words: list[str], vectors: np.ndarray, k: int) -> list[tuple[str, float]]:
    if word not in words:
        return []
    u = unit(vectors)
    sims = u @ u[words.index(word)]
    order = [i for i in np.argsort(-sims) if words[i] != word][:k]
    return [(words[i], round(float(sims[i]), 3)) for i in order]
