"""One loader per dataset, reading that dataset's own files into uniform records.

Each real dataset's loader takes its folder (:func:`minilm.data.registry.load_dataset` finds it
under the data root) and returns :class:`Loaded`: the splits of records with the fields of its task
(:data:`~minilm.data.dataset.TASK_FIELDS`), its class names, and for qa the raw SQuAD JSON.  The
file-name tables here are the files each loader reads; the registry lists them for its missing-file
message and the downloader.  :func:`load_world` turns the generated data into datasets.

Everything a file can get wrong (missing, malformed line, unknown label) is a one-line
:class:`~minilm.errors.UserError` naming the file and line.
"""

from __future__ import annotations

import bisect
import html
import itertools
import re
from pathlib import Path
from typing import Any, NamedTuple

from minilm.data.dataset import (
    TASK_FIELDS,
    Dataset,
    Record,
    Splits,
    check_label,
    check_score,
    nonempty,
)
from minilm.data.formats import read_delimited, read_json, read_jsonl, read_lines, require_same_length
from minilm.errors import UserError

WORLD = "world"  # the generated data: "world" (LM corpus) and "world_<task>"


class Loaded(NamedTuple):
    """What a dataset loader returns."""

    splits: Splits
    labels: tuple[str, ...] | None = None
    raw: dict[str, Any] | None = None


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


def load_tinyshakespeare(folder: Path) -> Loaded:
    """One record per line.  train: the lines holding the first 90% of the characters (nanoGPT's
    split, cut at the end of a line); dev: the rest.  ``"\\n".join`` of the texts restores the file."""
    path = folder / "input.txt"
    lines = read_lines(path)
    ends = list(itertools.accumulate(len(line) + 1 for line in lines))  # characters up to each line end
    cut = bisect.bisect_left(ends, 0.9 * ends[-1]) + 1
    return Loaded({"train": _lines_records(lines[:cut]), "dev": _lines_records(lines[cut:])})


def load_wikitext2(folder: Path) -> Loaded:
    """One record per line of the tokenized files (blank ``" "`` lines and ``= Heading =`` lines
    kept, so that tokens + one <eos> per line give the published counts).  No train split here."""
    return Loaded(
        {split: _lines_records(read_lines(folder / f"{name}.txt")) for split, name in _WIKITEXT2.items()}
    )


_WIKITEXT2 = {"dev": "valid", "test": "test"}
WIKI_FILES = tuple(f"AA/wiki_{i:02d}.gz" for i in range(50))
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
    return articles


def load_wikipedia_en(folder: Path) -> Loaded:
    """One record per article (extra field ``title``).  train: wiki_00..48, dev: wiki_49."""
    articles = [_wiki_articles(folder / name) for name in WIKI_FILES]
    return Loaded({"train": [a for file in articles[:-1] for a in file], "dev": articles[-1]})


SST2_FILES = {"train": "stsa.binary.train", "dev": "stsa.binary.dev", "test": "stsa.binary.test"}
_SST2_LABELS = {"0": "negative", "1": "positive"}


def load_sst2(folder: Path) -> Loaded:
    """Lines ``<0|1> <sentence>``: 0 = negative, 1 = positive."""
    splits = {}
    for split, name in SST2_FILES.items():
        path, records = folder / name, []
        for number, line in enumerate(read_lines(path), start=1):
            code, space, text = line.partition(" ")
            if not space or not text.strip():
                raise UserError(f"{path}:{number}: expected '<label> <sentence>'")
            records.append({"text": text, "label": check_label(code, _SST2_LABELS, f"{path}:{number}")})
        splits[split] = records
    return Loaded(splits, tuple(_SST2_LABELS.values()))


SICK_FILES = {"train": "SICK_train.txt", "dev": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}
_SICK_HEADER = ["pair_ID", "sentence_A", "sentence_B", "relatedness_score", "entailment_judgment"]
_NLI_LABELS = {"ENTAILMENT": "entailment", "NEUTRAL": "neutral", "CONTRADICTION": "contradiction"}


def _sick_rows(folder: Path) -> dict[str, tuple[Path, list[tuple[int, list[str]]]]]:
    """Tab-separated, header row, no quoting; the test file has CRLF line ends."""
    rows = {}
    for split, name in SICK_FILES.items():
        path = folder / name
        rows[split] = (path, _body(path, read_delimited(path, "\t", quoted=False, widths=(5,)), _SICK_HEADER))
    return rows


def load_sick(folder: Path) -> Loaded:
    """The entailment judgement, lower-cased: entailment / neutral / contradiction."""
    splits = {
        split: [
            {"premise": f[1], "hypothesis": f[2], "label": check_label(f[4], _NLI_LABELS, f"{path}:{number}")}
            for number, f in rows
        ]
        for split, (path, rows) in _sick_rows(folder).items()
    }
    return Loaded(splits, tuple(_NLI_LABELS.values()))


def load_sick_relatedness(folder: Path) -> Loaded:
    """The relatedness score, in [1, 5]."""
    splits = {
        split: [
            {"sentence1": f[1], "sentence2": f[2], "score": check_score(f[3], f"{path}:{number}", (1.0, 5.0))}
            for number, f in rows
        ]
        for split, (path, rows) in _sick_rows(folder).items()
    }
    return Loaded(splits)


RTE_FILES = {"train": "train.tsv", "dev": "dev.tsv", "test_unlabelled": "test.tsv"}
_RTE_LABELS = {"0": "entailment", "1": "not_entailment"}


def load_glue_rte(folder: Path) -> Loaded:
    """Tab-separated with CSV quoting (``"..."``, ``""`` inside); labels 0 = entailment,
    1 = not_entailment.  The test labels are hidden (-1): that split is ``test_unlabelled``,
    its records' label None."""
    splits = {}
    for split, name in RTE_FILES.items():
        path = folder / name
        rows = _body(
            path, read_delimited(path, "\t", widths=(4,)), ["sentence1", "sentence2", "label", "idx"]
        )
        allowed = {"-1": None} if split == "test_unlabelled" else _RTE_LABELS
        splits[split] = [
            {"premise": f[0], "hypothesis": f[1], "label": check_label(f[2], allowed, f"{path}:{number}")}
            for number, f in rows
        ]
    return Loaded(splits, tuple(_RTE_LABELS.values()))


_CLINC = {"train": ("train", "oos_train"), "dev": ("val", "oos_val"), "test": ("test", "oos_test")}


def load_clinc150(folder: Path) -> Loaded:
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
            {"text": text, "label": check_label(intent, labels, where)}
            for where, (text, intent) in split_items
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
SNIPS_FILES = {"train": "train_{}_full.json", "dev": "validate_{}.json"}


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
    return nonempty(path, records)


def load_snips(folder: Path) -> Loaded:
    """The 7 intents, one file per intent and split; ``validate`` is the dev split (no test)."""
    splits = {
        split: [r for intent in SNIPS_INTENTS for r in _snips_file(folder / pattern.format(intent), intent)]
        for split, pattern in SNIPS_FILES.items()
    }
    return Loaded(splits, SNIPS_INTENTS)


TREC_FILES = {"train": "TREC.train", "test": "TREC.test"}
_TREC_LINE = re.compile(r"(([A-Z]+):\S+) (.*\S)")
TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def _trec_rows(folder: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """Lines ``COARSE:fine question`` -> (where, coarse, "COARSE:fine", question).  Latin-1:
    TREC.train holds one stray byte (0xF0 in "sister\\xf0city"), the rest is ASCII."""
    rows = {}
    for split, name in TREC_FILES.items():
        path, parsed = folder / name, []
        for number, line in enumerate(read_lines(path, encoding="latin-1"), start=1):
            match = _TREC_LINE.fullmatch(line)
            if match is None:
                raise UserError(f"{path}:{number}: expected 'COARSE:fine question'")
            parsed.append((f"{path}:{number}", match[2], match[1], match[3]))
        rows[split] = parsed
    return rows


def load_trec(folder: Path) -> Loaded:
    """The 6 coarse classes."""
    coarse = {c: c for c in TREC_COARSE}
    splits = {
        split: [{"text": q, "label": check_label(c, coarse, where)} for where, c, _, q in rows]
        for split, rows in _trec_rows(folder).items()
    }
    return Loaded(splits, TREC_COARSE)


def load_trec_fine(folder: Path) -> Loaded:
    """The fine classes as ``COARSE:fine`` (50 in train, sorted; test uses 42 of them)."""
    rows = _trec_rows(folder)
    fine = {f: f for f in sorted({f for _, _, f, _ in rows["train"]})}
    splits = {
        split: [{"text": q, "label": check_label(f, fine, where)} for where, _, f, q in split_rows]
        for split, split_rows in rows.items()
    }
    return Loaded(splits, tuple(fine))


def load_ag_news(folder: Path) -> Loaded:
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
            "label": check_label(code, codes, f"{path}:{number}"),
        }
        for number, (code, title, description) in read_delimited(path, ",", widths=(3,))
    ]
    return Loaded({"test": nonempty(path, records)}, tuple(names))


MULTI30K_STEMS = {"train": "train", "dev": "val", "test": "test_2016_flickr"}


def load_multi30k(folder: Path) -> Loaded:
    """English -> German: line i of ``<split>.en.gz`` is translated by line i of ``<split>.de.gz``."""
    splits = {}
    for split, stem in MULTI30K_STEMS.items():
        en, de = folder / f"{stem}.en.gz", folder / f"{stem}.de.gz"
        sources, targets = read_lines(en), read_lines(de)
        require_same_length(en, sources, de, targets)
        splits[split] = [{"source": s, "target": t} for s, t in zip(sources, targets, strict=True)]
    return Loaded(splits)


def squad_records(squad: Any, where: str) -> list[Record]:
    """Flatten SQuAD v1.1 JSON into qa records, checking that every answer is the span of the
    context it claims to be (``context[answer_start:][:len(text)] == text``).  An error names the
    record: ``data[i].paragraphs[j].qas[k]`` and the question id."""
    records = []
    at = ""  # where in the file: "" (the top level), then data[i].paragraphs[j](.qas[k])
    try:
        for i, article in enumerate(squad["data"]):
            for j, paragraph in enumerate(article["paragraphs"]):
                at = f"data[{i}].paragraphs[{j}]"
                context = paragraph["context"]
                for k, qa in enumerate(paragraph["qas"]):
                    at = f"data[{i}].paragraphs[{j}].qas[{k}]"
                    answers = [{"text": a["text"], "answer_start": a["answer_start"]} for a in qa["answers"]]
                    for a in answers:
                        start = a["answer_start"]
                        if not (
                            isinstance(start, int) and context[start : start + len(a["text"])] == a["text"]
                        ):
                            raise UserError(
                                f"{where}: question {qa['id']}: answer {a['text']!r} is not at "
                                f"answer_start={start!r} of its context ({at})"
                            )
                    records.append(
                        {"id": qa["id"], "context": context, "question": qa["question"], "answers": answers}
                    )
    except (KeyError, TypeError, IndexError) as e:
        raise UserError(
            f'{where}: {at + ": " if at else ""}not SQuAD v1.1 JSON ({{"data": [{{"paragraphs": '
            f'[{{"context", "qas": [{{"id", "question", "answers"}}]}}]}}]}}): {e!r}'
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


def load_xquad(folder: Path) -> Loaded:
    """XQuAD English (1,190 SQuAD v1.1 dev questions), evaluation only: one ``test`` split."""
    path = folder / "xquad.en.json"
    squad = load_squad_json(path)
    return Loaded({"test": squad_records(squad, str(path))}, raw={"test": squad})


SCITLDR_FILES = {"train": "train.jsonl.gz", "dev": "dev.jsonl", "test": "test.jsonl"}


def load_scitldr(folder: Path) -> Loaded:
    """JSON Lines ``{"source": [abstract sentences], "target": [TLDRs], ...}``.  document: the
    sentences joined by spaces; summary: the first TLDR (the author's); extra field
    ``references``: all TLDRs (1-4 per paper, for multi-reference ROUGE)."""
    splits = {}
    for split, name in SCITLDR_FILES.items():
        path, records = folder / name, []
        for number, paper in read_jsonl(path):
            source, target = paper.get("source"), paper.get("target")
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
        splits[split] = records
    return Loaded(splits)


STSB_FILES = {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"}


def load_stsbenchmark(folder: Path) -> Loaded:
    """Despite ".csv": tab-separated, no header, no quoting (sentences hold stray quotes); columns
    genre, file, year, id, score (0-5), sentence1, sentence2 and on some rows 2 more (source, licence)."""
    splits = {}
    for split, name in STSB_FILES.items():
        path = folder / name
        splits[split] = nonempty(
            path,
            [
                {
                    "sentence1": f[5],
                    "sentence2": f[6],
                    "score": check_score(f[4], f"{path}:{number}", (0.0, 5.0)),
                }
                for number, f in read_delimited(path, "\t", quoted=False, widths=(7, 9))
            ],
        )
    return Loaded(splits)


# --- the generated "world" data --------------------------------------------------------------------


def world_names() -> list[str]:
    """The generated datasets: the corpus ``world`` and ``world_<task>`` for each generated task."""
    from minilm.data import world  # lazily: generating is only needed for the world datasets

    return [WORLD, *(f"{WORLD}_{task}" for task in world.TASKS)]


def load_world(name: str) -> Dataset:
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
        raise UserError(f"unknown dataset {name!r}; the world datasets: {', '.join(world_names())}")
    generated = world.generate_task(task_name, seed=0)
    source = f"minilm.data.world.generate_task({task_name!r})"
    if all(isinstance(split, dict) for split in generated.values()):  # SQuAD JSON
        splits = {split: squad_records(squad, f"{source} {split}") for split, squad in generated.items()}
        return Dataset(name, "qa", splits, None, source, raw=generated)
    task = next(t for t, fields in TASK_FIELDS.items() if set(fields) == set(generated["train"][0]))
    labels = world.LABELS.get(task_name)
    return Dataset(name, task, generated, None if labels is None else tuple(labels), source)
