"""Trained word vectors: look-ups, neighbours, analogies, gensim-identical evaluations, file formats.

A numpy-only counterpart of gensim's ``KeyedVectors`` (method names and results are gensim's):

- ``most_similar(positive, negative)``: 3CosAdd (Mikolov et al. 2013c, "Linguistic Regularities in
  Continuous Space Word Representations"): rank ``w`` by ``cos(w, normalize(sum_+ unit(x) - sum_- unit(y)))``;
- ``most_similar_cosmul``: 3CosMul (Levy & Goldberg 2014, eq. 4, cosines shifted to [0, 1])::

      prod_+ (1 + cos(w, x)) / 2  /  (prod_- (1 + cos(w, y)) / 2 + 1e-6)

- ``evaluate_word_pairs``: Pearson and Spearman between human scores and cosines, with the share of
  pairs skipped as out-of-vocabulary (WordSim353, SimLex-999); the correlations are
  :mod:`minilm.metrics.similarity`'s, which follow SciPy's (gensim calls SciPy);
- ``evaluate_word_analogies``: questions ``a b c d`` (a:b :: c:d) answered by the best 3CosAdd word
  among the ``restrict_vocab`` most frequent ones, inputs excluded (Google's questions-words.txt);
  both evaluations reproduce gensim's exactly, case-insensitive matching included;
- files: word2vec text and binary (what word2vec.c and gensim write and read) and safetensors + a
  vocabulary JSON (which also keeps fastText's n-gram vectors, so OOV words get vectors after a reload).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from minilm.data.formats import decode, read_bytes, read_json, read_lines, split_lines
from minilm.errors import UserError
from minilm.metrics.similarity import pearson, spearman
from minilm.vectors.subwords import SubwordHasher


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


class KeyedVectors:
    """Words and their vectors (rows in vocabulary order: most frequent first)."""

    def __init__(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        subwords: SubwordHasher | None = None,
        ngram_vectors: np.ndarray | None = None,
    ):
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
        self.index_to_key = list(words)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise UserError("the vocabulary has a repeated word")
        self.vectors = np.asarray(vectors, dtype=np.float32)  # (V, D)
        self.subwords = subwords  # fastText: OOV words get the mean of their n-gram vectors
        self.ngram_vectors = ngram_vectors  # (buckets, D) or None
        self._unit: np.ndarray | None = None

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    @property
    def unit_vectors(self) -> np.ndarray:
        """(V, D) rows scaled to length 1 (zero rows stay zero)."""
        if self._unit is None:
            self._unit = _unit_rows(self.vectors)
        return self._unit

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: str) -> bool:
        return word in self.key_to_index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.get_vector(word)

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """The word's vector; for an OOV word of a fastText model, the mean of its n-gram vectors."""
        if word in self.key_to_index:
            vector = self.vectors[self.key_to_index[word]]
        elif self.subwords is not None and self.ngram_vectors is not None:
            rows = self.subwords.ngram_rows(word)
            vector = self.ngram_vectors[rows].mean(0) if rows else np.zeros(self.vector_size, np.float32)
        else:
            raise KeyError(f"word {word!r} is not in the vocabulary")
        return _unit_rows(vector) if norm else vector

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity."""
        return float(np.dot(self.get_vector(a, norm=True), self.get_vector(b, norm=True)))

    # --- neighbours and analogies ---------------------------------------------------------------------

    def _query(self, positive: Sequence[str], negative: Sequence[str]) -> tuple[np.ndarray, set[int]]:
        """The unit mean of +unit(x) and -unit(y), and the vocabulary rows of the inputs."""
        if not positive and not negative:
            raise UserError("most_similar needs at least one word")
        terms = [self.get_vector(w, norm=True) for w in positive] + [
            -self.get_vector(w, norm=True) for w in negative
        ]
        mean = np.mean(terms, axis=0)
        inputs = {self.key_to_index[w] for w in [*positive, *negative] if w in self.key_to_index}
        return _unit_rows(mean).astype(np.float32), inputs

    def _top(self, scores: np.ndarray, exclude: set[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64).copy()
        scores[list(exclude)] = -np.inf
        best = np.argsort(-scores, kind="stable")[:topn]
        return [(self.index_to_key[i], float(scores[i])) for i in best]

    def most_similar(
        self,
        positive: Sequence[str] | str = (),
        negative: Sequence[str] | str = (),
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """3CosAdd neighbours of ``sum unit(positive) - sum unit(negative)``, inputs excluded."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        query, inputs = self._query(positive, negative)
        scores = self.unit_vectors[:restrict_vocab] @ query
        return self._top(scores, {i for i in inputs if i < len(scores)}, topn)

    def most_similar_cosmul(
        self, positive: Sequence[str] | str = (), negative: Sequence[str] | str = (), topn: int = 10
    ) -> list[tuple[str, float]]:
        """3CosMul neighbours (Levy & Goldberg 2014, eq. 4 with cosines shifted to [0, 1])."""
        positive = [positive] if isinstance(positive, str) else list(positive)
        negative = [negative] if isinstance(negative, str) else list(negative)
        if not positive:
            raise UserError("most_similar_cosmul needs at least one positive word")
        shifted = lambda w: (1 + self.unit_vectors @ self.get_vector(w, norm=True)) / 2  # noqa: E731
        scores = np.prod([shifted(w) for w in positive], axis=0)
        scores = scores / (np.prod([shifted(w) for w in negative], axis=0) + 1e-6)
        return self._top(scores, {self.key_to_index[w] for w in [*positive, *negative] if w in self}, topn)

    def analogy(self, a: str, b: str, c: str, method: str = "add", topn: int = 1) -> list[tuple[str, float]]:
        """``a : b :: c : ?`` -- e.g. ``analogy("man", "king", "woman")`` -> [("queen", ...)]."""
        if method == "add":
            return self.most_similar(positive=[b, c], negative=[a], topn=topn)
        if method == "mul":
            return self.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn)
        raise UserError(f"analogy method {method!r}: allowed values are add, mul")

    # --- evaluations (gensim's rules) -----------------------------------------------------------------

    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
        """gensim: the first ``restrict_vocab`` words; with case folding the most frequent variant wins."""
        keys = self.index_to_key[:restrict_vocab]
        fold = str.upper if case_insensitive else (lambda w: w)
        return {fold(w): i for i, w in reversed(list(enumerate(keys)))}

    def evaluate_word_pairs(
        self,
        pairs: str | Path,
        delimiter: str = "\t",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
    ) -> tuple[float, float, float]:
        """(Pearson r, Spearman rho, OOV %) on ``word1<TAB>word2<TAB>score`` lines (``#``: comment).

        Pairs with a word outside the first ``restrict_vocab`` words are skipped and counted as OOV;
        fewer than 2 pairs left is a UserError (SciPy's ``pearsonr``, which gensim calls, raises).
        """
        ok = self._ok_vocab(restrict_vocab, case_insensitive)
        gold, model, oov = [], [], 0
        for line in _read_lines(pairs):
            if not line or line.startswith("#"):
                continue
            fields = line.split(delimiter)
            if len(fields) != 3:
                continue
            a, b, score = fields
            try:
                score = float(score)
            except ValueError:
                continue
            if case_insensitive:
                a, b = a.upper(), b.upper()
            if a not in ok or b not in ok:
                oov += 1
                continue
            gold.append(score)
            model.append(float(np.dot(self.unit_vectors[ok[a]], self.unit_vectors[ok[b]])))
        if len(gold) < 2:
            raise UserError(
                f"{_name(pairs)}: pairs with both words in the vocabulary (and a valid line): {len(gold)}; "
                "a correlation needs at least 2"
            )
        return pearson(gold, model), spearman(gold, model), 100.0 * oov / (len(gold) + oov)

    def evaluate_word_analogies(
        self,
        analogies: str | Path,
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        method: str = "add",
        chunk: int = 128,  # questions scored at a time: (chunk, R) scores, 11 MB for R = 22k
    ) -> tuple[float, list[dict]]:
        """(accuracy, sections) on questions-words format: ``: section`` headers, ``a b c d`` lines.

        Like gensim: questions with a word outside the first ``restrict_vocab`` words are skipped; the
        answer is the first of the 5 best-scoring words (inputs excluded) that is not a case variant of
        an input.  ``method``: "add" (3CosAdd, gensim's) or "mul" (3CosMul).
        """
        ok = self._ok_vocab(restrict_vocab, case_insensitive)
        sections: list[dict] = []
        questions: list[tuple[int, tuple[str, str, str, str]]] = []  # (section number, words)
        for line_no, line in enumerate(_read_lines(analogies), start=1):
            if line.startswith(": "):
                sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
                continue
            if not sections:
                raise UserError(f"{_name(analogies)}:{line_no}: a question before the first ': section' line")
            words = [w.upper() if case_insensitive else w for w in line.split()]
            if len(words) != 4:
                continue
            if all(w in ok for w in words):
                questions.append((len(sections) - 1, tuple(words)))
        unit = self.unit_vectors[:restrict_vocab]
        fold = str.upper if case_insensitive else (lambda w: w)
        for start in range(0, len(questions), chunk):
            part = questions[start : start + chunk]
            idx = np.array([[ok[w] for w in q[:3]] for _, q in part])  # (Q, 3): a, b, c
            scores = self._analogy_scores(unit, idx, method)  # (Q, R)
            np.put_along_axis(scores, idx, -np.inf, axis=1)
            top = (
                np.argpartition(-scores, 5, axis=1)[:, :5] if scores.shape[1] > 5 else np.argsort(-scores, 1)
            )
            for (section, words), cand, row in zip(part, top, scores, strict=True):
                cand = cand[np.argsort(-row[cand], kind="stable")]
                predicted = None
                for i in cand:
                    predicted = fold(self.index_to_key[i])
                    if predicted not in words[:3]:
                        break
                sections[section]["correct" if predicted == words[3] else "incorrect"].append(words)
        correct = [q for s in sections for q in s["correct"]]
        incorrect = [q for s in sections for q in s["incorrect"]]
        sections.append({"section": "Total accuracy", "correct": correct, "incorrect": incorrect})
        total = len(correct) + len(incorrect)
        return (len(correct) / total if total else 0.0), sections

    @staticmethod
    def _analogy_scores(unit: np.ndarray, idx: np.ndarray, method: str) -> np.ndarray:
        a, b, c = unit[idx[:, 0]], unit[idx[:, 1]], unit[idx[:, 2]]
        if method == "add":
            return _unit_rows(b + c - a) @ unit.T
        if method == "mul":
            shifted = lambda x: (1 + x @ unit.T) / 2  # noqa: E731
            return shifted(b) * shifted(c) / (shifted(a) + 1e-6)
        raise UserError(f"analogy method {method!r}: allowed values are add, mul")

    # --- files ----------------------------------------------------------------------------------------

    def save_word2vec_format(self, path: str | Path, binary: bool = False) -> None:
        """word2vec.c's format: a ``V D`` header, then per word ``word v1 .. vD`` (text) or ``word `` + D
        little-endian float32 + newline (binary)."""
        with open(path, "wb") as f:
            f.write(f"{len(self)} {self.vector_size}\n".encode())
            for word, row in zip(self.index_to_key, self.vectors, strict=True):
                if binary:
                    f.write(word.encode() + b" " + row.astype("<f4").tobytes() + b"\n")
                else:
                    f.write(f"{word} {' '.join(repr(float(v)) for v in row)}\n".encode())

    @classmethod
    def load_word2vec_format(cls, path: str | Path, binary: bool = False) -> KeyedVectors:
        """Read word2vec text or binary vectors (gensim's ``save_word2vec_format`` output included)."""
        data = read_bytes(path)
        header, _, body = data.partition(b"\n")
        try:
            count, dim = (int(x) for x in header.split())
        except ValueError:
            raise UserError(f"{path}:1: expected a 'VOCAB_SIZE DIM' header, got {header[:60]!r}") from None
        if binary:
            words, vectors = _parse_binary(path, body, count, dim)
        else:
            words, vectors = _parse_text(path, split_lines(decode(data, path))[1:], count, dim)
        return cls(words, vectors)

    def save(self, path: str | Path) -> None:
        """``path`` (.safetensors: ``vectors``, fastText's ``ngram_vectors``) and ``path``.vocab.json."""
        path = Path(path)
        tensors = {"vectors": self.vectors}
        meta: dict = {"words": self.index_to_key}
        if self.subwords is not None and self.ngram_vectors is not None:
            tensors["ngram_vectors"] = np.asarray(self.ngram_vectors, np.float32)
            meta["subwords"] = self.subwords.config()
        save_file(tensors, str(path))
        _vocab_path(path).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> KeyedVectors:
        """Read what :meth:`save` wrote."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        meta = read_json(_vocab_path(path))
        tensors = load_file(str(path))
        subwords = SubwordHasher(**meta["subwords"]) if "subwords" in meta else None
        return cls(meta["words"], tensors["vectors"], subwords, tensors.get("ngram_vectors"))


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (N, D) projected on their first two principal axes (N, 2): centre the rows, take the
    SVD ``X - mean = U S V^T``, return ``U[:, :2] S[:2]``.  Each axis's sign is fixed so that its largest
    coordinate is positive (an SVD's signs are arbitrary; scikit-learn's ``PCA`` fixes them likewise)."""
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    points = u[:, :2] * s[:2]  # (N, 2)
    signs = np.sign(points[np.abs(points).argmax(axis=0), [0, 1]])
    return points * np.where(signs == 0, 1.0, signs)


def load_vectors(path: str | Path) -> KeyedVectors:
    """Any of the three formats, by extension: ``.safetensors``, ``.bin`` (word2vec binary), else text."""
    suffix = Path(path).suffix
    if suffix == ".safetensors":
        return KeyedVectors.load(path)
    return KeyedVectors.load_word2vec_format(path, binary=suffix == ".bin")


def _vocab_path(path: Path) -> Path:
    return path.with_suffix(".vocab.json")


def _is_text(source: str | Path) -> bool:
    """A multi-line string given directly (the generated evaluation sets), not a file name."""
    return isinstance(source, str) and "\n" in source


def _name(source: str | Path) -> str:
    return "the given lines" if _is_text(source) else str(source)


def _read_lines(source: str | Path) -> list[str]:
    """Lines of a file, or of a multi-line string given directly."""
    return source.splitlines() if _is_text(source) else read_lines(source)


def _parse_text(path, lines: list[str], count: int, dim: int) -> tuple[list[str], np.ndarray]:
    """The ``count`` lines ``word v1 .. vD`` below the header (line i is line i + 2 of the file)."""
    if len(lines) < count:
        raise UserError(f"{path}: header says {count} words but the file has {len(lines)} lines after it")
    words, vectors = [], np.empty((count, dim), np.float32)
    for i, line in enumerate(lines[:count]):
        fields = line.rstrip().split(" ")
        if len(fields) != dim + 1:
            raise UserError(f"{path}:{i + 2}: expected a word and {dim} numbers, got {len(fields)} fields")
        words.append(fields[0])
        try:
            vectors[i] = np.array(fields[1:], dtype=np.float32)
        except ValueError:
            raise UserError(f"{path}:{i + 2}: a vector value is not a number") from None
    return words, vectors


def _parse_binary(path, body: bytes, count: int, dim: int) -> tuple[list[str], np.ndarray]:
    words, vectors, pos, size = [], np.empty((count, dim), np.float32), 0, 4 * dim
    for i in range(count):
        while pos < len(body) and body[pos : pos + 1] in (b"\n", b"\r"):
            pos += 1  # word2vec.c ends each vector with a newline; gensim does not
        space = body.find(b" ", pos)
        if space < 0 or space + 1 + size > len(body):
            raise UserError(f"{path}: binary file ends inside word {i + 1} of {count}")
        words.append(body[pos:space].decode("utf-8"))
        vectors[i] = np.frombuffer(body, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + size
    return words, vectors
