"""The dataset registry: every real loader against the counts in the shared data README, the quirks
of its files, the offline download path, users' files, and each kind of bad input.

Real-data tests use the ``data_root`` fixture: skipped without ``MINILM_DATA``, failing when it is
set and a file is missing.  Bad-input tests write small files to ``tmp_path``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from minilm.data import download, loaders, registry, world
from minilm.data.dataset import TASK_FIELDS, Dataset
from minilm.data.formats import decode, read_delimited
from minilm.data.loaders import load_squad_json
from minilm.data.registry import DATASETS, load_dataset
from minilm.data.userfiles import load_file
from minilm.errors import UserError


@pytest.fixture(scope="module")
def real(data_root: Path):
    """load_dataset on the real data, each dataset loaded once per module."""
    cache: dict[str, Dataset] = {}

    def load(name: str) -> Dataset:
        if name not in cache:
            cache[name] = load_dataset(name, data_root)
        return cache[name]

    return load


def sizes(ds: Dataset) -> dict[str, int]:
    return {split: len(records) for split, records in ds.splits.items()}


def label_counts(ds: Dataset, split: str) -> dict[str, int]:
    return dict(Counter(r["label"] for r in ds.splits[split]))


def error(match: str):
    """pytest.raises(UserError) whose one-line message contains ``match``."""
    return pytest.raises(UserError, match=re.escape(match))


# --- real data: counts from the shared data README -----------------------------------------------


@pytest.mark.parametrize("name", list(DATASETS))
def test_records_have_the_fields_of_their_task(real, name):
    ds = real(name)
    assert ds.task == DATASETS[name].task
    for records in ds.splits.values():
        assert records
        assert set(TASK_FIELDS[ds.task]) <= set(records[0]) and set(TASK_FIELDS[ds.task]) <= set(records[-1])
        if ds.labels is not None:
            assert {r["label"] for r in records} <= {*ds.labels, None}


def test_tinyshakespeare_splits_at_90_percent_of_characters(real, data_root):
    ds = real("tinyshakespeare")
    train, dev = ([r["text"] for r in ds.splits[s]] for s in ("train", "dev"))
    assert len(train) + len(dev) == 40_000
    text = (data_root / "tinyshakespeare" / "input.txt").read_text()
    assert "\n".join(train + dev) + "\n" == text and len(text) == 1_115_394
    train_chars = sum(len(line) + 1 for line in train)
    assert train_chars >= 0.9 * len(text) > train_chars - len(train[-1]) - 1
    assert train[0] == "First Citizen:"


def test_wikitext2_token_counts(real):
    ds = real("wikitext2")
    assert sizes(ds) == {"dev": 3760, "test": 4358}
    tokens_with_eos = {s: sum(len(r["text"].split()) + 1 for r in ds.splits[s]) for s in ds.splits}
    assert tokens_with_eos == {"dev": 217_646, "test": 245_569}
    assert ds.splits["dev"][1]["text"] == " = Homarus gammarus = "


def test_wikipedia_articles_without_doc_wrappers(real):
    ds = real("wikipedia_en")
    articles = ds.splits["train"] + ds.splits["dev"]
    assert len(articles) == 3221 and len(ds.splits["dev"]) == 76  # dev: wiki_49
    # wiki_49's 164,792 words: per article <doc id= url= title="T..."> and </doc> (4 + |T|), the title line
    # (|T|) and the paragraphs
    assert sum(4 + 2 * len(a["title"].split()) + len(a["text"].split()) for a in ds.splits["dev"]) == 164_792
    assert (articles[0]["title"], articles[-1]["title"]) == ("Anarchism", "Chagas disease")
    assert articles[0]["text"].startswith("Anarchism is a political philosophy")
    assert not any("<doc" in a["text"] or "</doc>" in a["text"] for a in articles)
    assert "Batman & Robin (film)" in {a["title"] for a in articles}  # title="Batman &amp; Robin (film)"


def test_sst2(real):
    ds = real("sst2")
    assert ds.labels == ("negative", "positive")
    assert sizes(ds) == {"train": 6920, "dev": 872, "test": 1821}
    assert label_counts(ds, "train") == {"negative": 3310, "positive": 3610}
    assert label_counts(ds, "dev") == {"negative": 428, "positive": 444}
    assert label_counts(ds, "test") == {"negative": 912, "positive": 909}
    assert ds.splits["train"][0]["text"].startswith("a stirring , funny and finally transporting")


def test_sick_entailment_and_crlf_test_file(real):
    ds = real("sick")
    assert ds.labels == ("entailment", "neutral", "contradiction")
    assert sizes(ds) == {"train": 4500, "dev": 500, "test": 4927}
    assert label_counts(ds, "train") == {"neutral": 2536, "entailment": 1299, "contradiction": 665}
    assert label_counts(ds, "dev") == {"neutral": 282, "entailment": 144, "contradiction": 74}
    assert label_counts(ds, "test") == {"neutral": 2793, "entailment": 1414, "contradiction": 720}
    assert not any("\r" in r["premise"] + r["hypothesis"] for r in ds.splits["test"])  # CRLF file


def test_sick_relatedness(real):
    ds = real("sick_relatedness")
    assert sizes(ds) == {"train": 4500, "dev": 500, "test": 4927}
    assert all(1.0 <= r["score"] <= 5.0 for records in ds.splits.values() for r in records)
    first = ds.splits["train"][0]
    assert first["score"] == 4.5 and first["sentence1"].startswith("A group of kids is playing in a yard")


def test_glue_rte_quoted_fields(real):
    ds = real("glue_rte")
    assert ds.labels == ("entailment", "not_entailment")
    assert sizes(ds) == {"train": 2490, "dev": 277, "test_unlabelled": 3000}
    assert label_counts(ds, "train") == {"entailment": 1249, "not_entailment": 1241}
    assert label_counts(ds, "dev") == {"entailment": 146, "not_entailment": 131}
    assert label_counts(ds, "test_unlabelled") == {None: 3000}
    # the TSV line reads "Valero ... found ""extensive"" additional ..." wrapped in quotes
    premises = {r["premise"] for r in ds.splits["train"]}
    assert (
        'Valero Energy Corp., on Monday, said it found "extensive" additional damage at its '
        "250,000-barrel-per-day Port Arthur refinery."
    ) in premises
    texts = [
        text for records in ds.splits.values() for r in records for text in (r["premise"], r["hypothesis"])
    ]
    assert not any('""' in text for text in texts)  # every doubled quote was read as one
    dev = [r["premise"] for r in ds.splits["dev"]]  # dev.tsv:139 starts with three quotes
    assert dev[137].startswith('"It\'s Only a Play" is Terrence McNally\'s "Give My Regards to Broadway,"')


def test_clinc150_with_out_of_scope(real):
    ds = real("clinc150")
    assert sizes(ds) == {"train": 15_000 + 100, "dev": 3_000 + 100, "test": 4_500 + 1_000}
    assert len(ds.labels) == 151 and "oos" in ds.labels and list(ds.labels) == sorted(ds.labels)
    train = Counter(label_counts(ds, "train").values())
    assert train == {100: 151}  # 150 intents x 100, and 100 oos
    assert label_counts(ds, "test")["oos"] == 1000


def test_snips_and_its_cesu8_file(real):
    ds = real("snips")
    assert sizes(ds) == {"train": 13_784, "dev": 700}
    assert label_counts(ds, "train")["AddToPlaylist"] == 1942 and set(label_counts(ds, "dev").values()) == {
        100
    }
    texts = {r["text"] for r in ds.splits["train"]}
    # train_PlayMusic_full.json is not UTF-8: U+1F355 is written as two 3-byte surrogates
    assert "I want toi hear some Pop Punk Perfection \U0001f355 off of Deezer" in texts
    assert any("Música Da Série De Filmes O Hobbit" in t for t in texts)  # and real UTF-8 stays intact


def test_trec_coarse_and_fine(real):
    ds = real("trec")
    assert sizes(ds) == {"train": 5452, "test": 500}
    assert label_counts(ds, "train") == {
        "ABBR": 86,
        "DESC": 1162,
        "ENTY": 1250,
        "HUM": 1223,
        "LOC": 835,
        "NUM": 896,
    }
    assert label_counts(ds, "test") == {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}
    assert any("sister\xf0city" in r["text"] for r in ds.splits["train"])  # the one Latin-1 byte
    fine = real("trec_fine")
    assert len(fine.labels) == 50 and len(label_counts(fine, "test")) == 42
    assert fine.splits["train"][0] == {
        "text": "How did serfdom develop in and then leave Russia ?",
        "label": "DESC:manner",
    }


def test_ag_news(real):
    ds = real("ag_news")
    assert ds.labels == ("World", "Sports", "Business", "Sci/Tech")
    assert sizes(ds) == {"test": 7600} and set(label_counts(ds, "test").values()) == {1900}
    assert ds.splits["test"][0]["label"] == "Business"
    assert not any("\\" in r["text"] for r in ds.splits["test"])
    assert "A second team of rocketeers" in ds.splits["test"][1]["text"]  # "second\team" in the file


def test_multi30k(real):
    ds = real("multi30k")
    assert sizes(ds) == {"train": 29_000, "dev": 1014, "test": 1000}
    assert ds.splits["dev"][0] == {
        "source": "A group of men are loading cotton onto a truck",
        "target": "Eine Gruppe von Männern lädt Baumwolle auf einen Lastwagen",
    }


def test_xquad_records_and_raw_squad(real, data_root):
    ds = real("xquad")
    assert sizes(ds) == {"test": 1190}
    raw = ds.raw["test"]
    assert raw == json.loads((data_root / "xquad" / "xquad.en.json").read_text())
    assert len(raw["data"]) == 48 and sum(len(a["paragraphs"]) for a in raw["data"]) == 240
    first = ds.splits["test"][0]
    assert first["id"] == "56beb4343aeaaa14008c925b" and first["answers"] == [
        {"text": "308", "answer_start": 34}
    ]
    assert first["context"].startswith("The Panthers defense gave up just 308 points")


def test_scitldr(real):
    ds = real("scitldr")
    assert sizes(ds) == {"train": 1992, "dev": 619, "test": 618}
    references = {s: sum(len(r["references"]) for r in records) for s, records in ds.splits.items()}
    assert references == {"train": 1992, "dev": 1453, "test": 1967}
    assert all(r["summary"] == r["references"][0] for records in ds.splits.values() for r in records)


def test_stsbenchmark(real):
    ds = real("stsbenchmark")
    assert sizes(ds) == {"train": 5749, "dev": 1500, "test": 1379}
    assert all(0.0 <= r["score"] <= 5.0 for records in ds.splits.values() for r in records)
    first = {"sentence1": "A plane is taking off.", "sentence2": "An air plane is taking off.", "score": 5.0}
    assert ds.splits["train"][0] == first


def test_recorded_checksums_match_the_shared_data(data_root):
    for spec in DATASETS.values():
        for file in spec.files:
            path = data_root / spec.folder / file
            served = (
                gzip.decompress(path.read_bytes()) if path.suffix != Path(spec.remote(file)).suffix else None
            )
            data = served if served is not None else path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == download.SHA256[f"{spec.folder}/{file}"], path


# --- the generated world data ------------------------------------------------------------------------


def test_world_corpus_with_a_held_out_dev_split():
    ds = load_dataset("world")
    corpus = world.generate_corpus(seed=0)
    train, dev = ([r["text"] for r in ds.splits[s]] for s in ("train", "dev"))
    assert ds.task == "lm" and train == corpus[: len(train)] and len(train) == len(corpus) - len(corpus) // 10
    assert dev and set(dev) <= set(corpus[len(train) :]) and not set(dev) & set(train)


@pytest.mark.parametrize("task", world.TASKS)
def test_world_tasks(task):
    ds = load_dataset(f"world_{task}")
    assert sizes(ds) == dict(zip(("train", "dev", "test"), world.SIZES[task], strict=True))
    assert set(ds.splits["train"][0]) == set(TASK_FIELDS[ds.task])
    if task in world.LABELS:
        assert ds.labels == tuple(world.LABELS[task])
        assert {r["label"] for records in ds.splits.values() for r in records} <= set(ds.labels)
    if ds.task == "qa":
        assert ds.raw["test"]["version"] == "1.1"
        assert loaders.squad_records(ds.raw["test"], "test") == ds.splits["test"]


# --- download, offline: a file:// mirror of the source repositories ---------------------------------


def mirror(data_root: Path, tmp_path: Path, name: str) -> str:
    """A copy of dataset ``name``'s files laid out as ``{repo}/{commit}/{path}``, as they are served."""
    spec = DATASETS[name]
    for file in spec.files:
        remote = spec.remote(file)
        dest = tmp_path / "mirror" / spec.repo / spec.commit / remote
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = (data_root / spec.folder / file).read_bytes()
        dest.write_bytes(
            gzip.decompress(data) if file.endswith(".gz") and not remote.endswith(".gz") else data
        )
    return (tmp_path / "mirror").as_uri()


def test_download_checks_sha256_and_gzips_what_is_gzipped_here(data_root, tmp_path):
    url = mirror(data_root, tmp_path, "scitldr")
    folder = download.download_dataset("scitldr", tmp_path / "cache", mirror=url)
    assert sorted(p.name for p in folder.iterdir()) == ["dev.jsonl", "test.jsonl", "train.jsonl.gz"]
    ds = load_dataset("scitldr", tmp_path / "cache")
    assert sizes(ds) == {"train": 1992, "dev": 619, "test": 618}


def test_download_rejects_a_wrong_checksum_and_saves_nothing(data_root, tmp_path):
    url = mirror(data_root, tmp_path, "sst2")
    spec = DATASETS["sst2"]
    tampered = tmp_path / "mirror" / spec.repo / spec.commit / spec.remote("stsa.binary.dev")
    tampered.write_bytes(tampered.read_bytes().replace(b"1 ", b"0 ", 1))
    with error("SHA-256"):
        download.download_dataset("sst2", tmp_path / "cache", mirror=url)
    assert not (tmp_path / "cache" / "sst2" / "stsa.binary.dev").exists()


def test_download_failure_is_one_line(tmp_path):
    with error("download failed"):
        download.download_dataset("xquad", tmp_path, mirror=(tmp_path / "nothing").as_uri())


# --- where the data is ------------------------------------------------------------------------------


def write_sst2(folder: Path, dev: bytes = b"0 bad .\n1 good .\n") -> Path:
    (folder / "sst2").mkdir(parents=True)
    for name, data in (("train", b"1 fine .\n0 poor .\n"), ("dev", dev), ("test", b"1 ok .\n")):
        (folder / "sst2" / f"stsa.binary.{name}").write_bytes(data)
    return folder


def test_data_dir_wins_over_the_environment_variable(tmp_path, monkeypatch):
    write_sst2(tmp_path / "a")
    monkeypatch.setenv("MINILM_DATA", str(tmp_path / "a"))
    assert sizes(load_dataset("sst2")) == {"train": 2, "dev": 2, "test": 1}
    with error(f"no {tmp_path / 'b' / 'sst2' / 'stsa.binary.train'}"):
        load_dataset("sst2", tmp_path / "b")


def test_missing_dataset_says_which_files_where_and_how_to_get_them(tmp_path):
    with pytest.raises(UserError) as caught:
        load_dataset("wikipedia_en", data_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "wikipedia_en" / "AA" / "wiki_00.gz") in message and "49 more" in message
    assert (
        "https://github.com/jason-feng/wikiVisual/tree/1c0fac92f29f17c1603bfffbe864e0dfdff66897/text"
        in message
    )
    assert "--data_dir" in message and "MINILM_DATA" in message
    assert "download=True" not in message and "--data-dir" not in message  # the command line's words


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(UserError) as caught:
        load_dataset("sst-2")
    message = str(caught.value)
    assert "did you mean 'sst2'?" in message and all(name in message for name in registry.dataset_names())


def test_missing_split_lists_the_splits(tmp_path):
    with error("has no split 'validation'; its splits: train, dev, test"):
        load_dataset("sst2", write_sst2(tmp_path)).split("validation")


# --- bad input in the real formats ------------------------------------------------------------------


def test_not_utf8_names_file_and_line(tmp_path):
    write_sst2(tmp_path, dev=b"0 bad .\n1 good .\n1 caf\xe9 .\n")
    with error(f"{tmp_path / 'sst2' / 'stsa.binary.dev'}:3: not valid UTF-8 (byte 0xe9)"):
        load_dataset("sst2", tmp_path)


def test_unknown_label_in_a_real_format(tmp_path):
    write_sst2(tmp_path, dev=b"0 bad .\n2 good .\n")
    with error("stsa.binary.dev:2: unknown label '2'; allowed: 0, 1"):
        load_dataset("sst2", tmp_path)


def test_empty_file_in_a_real_format(tmp_path):
    write_sst2(tmp_path, dev=b"")
    with error("stsa.binary.dev: empty file"):
        load_dataset("sst2", tmp_path)


def test_tsv_row_with_wrong_column_count_in_a_real_format(tmp_path):
    (tmp_path / "sick").mkdir()
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\r\n"
    for name in ("SICK_train.txt", "SICK_trial.txt"):
        (tmp_path / "sick" / name).write_text(header + "1\tA man .\tA person .\t4.0\tENTAILMENT\n")
    (tmp_path / "sick" / "SICK_test_annotated.txt").write_text(header + "2\tA man .\t4.0\tNEUTRAL\r\n")
    with error("SICK_test_annotated.txt:2: expected 5 tab-separated fields, found 4"):
        load_dataset("sick", tmp_path)


def test_cesu8_decodes_surrogate_pairs_and_utf8_rejects_them():
    cesu = b"line one\npizza " + "\ud83c\udf55".encode("utf-8", "surrogatepass") + b"\n"  # U+1F355 as CESU-8
    assert decode(cesu, Path("x.json"), "cesu-8") == "line one\npizza \U0001f355\n"
    with error("x.json:2: not valid UTF-8 (byte 0xed)"):
        decode(cesu, Path("x.json"))
    lone = "\ud83c".encode("utf-8", "surrogatepass")
    with error("x.json:1: a lone UTF-16 surrogate"):
        decode(lone, Path("x.json"), "cesu-8")


def test_squad_answer_not_in_its_context(tmp_path):
    squad = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "the cat sat", "qas": [
        {"id": "q1", "question": "who sat?", "answers": [{"text": "cat", "answer_start": 4}]},
        {"id": "q2", "question": "what?", "answers": [{"text": "sat", "answer_start": 0}]},
    ]}]}]}  # fmt: skip
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    with error("squad.json: question q2: answer 'sat' is not at answer_start=0 of its context"):
        load_squad_json(path)
    del squad["data"][0]["paragraphs"][0]["qas"][1]
    path.write_text(json.dumps(squad))
    ds = load_dataset(str(path))
    assert ds.task == "qa" and ds.raw == {"train": squad} and load_squad_json(path) == squad
    assert ds.splits["train"] == [
        {
            "id": "q1",
            "context": "the cat sat",
            "question": "who sat?",
            "answers": [{"text": "cat", "answer_start": 4}],
        }
    ]


# --- users' files ------------------------------------------------------------------------------------


def test_plain_text_one_record_per_nonblank_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(
        b"\xef\xbb\xbffirst line\r\n\n  \nsecond line"
    )  # BOM, CRLF, blank lines, no final newline
    ds = load_dataset(str(path))
    assert (ds.task, ds.splits) == ("lm", {"train": [{"text": "first line"}, {"text": "second line"}]})
    gz = tmp_path / "corpus.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert load_dataset(str(gz)).splits == ds.splits


def test_csv_with_header_infers_the_task_from_column_names(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"great, really",pos\n"said ""meh""",neg\n')
    ds = load_dataset(str(path))
    assert ds.task == "classification" and ds.labels == ("neg", "pos")
    assert ds.splits["train"] == [
        {"text": "great, really", "label": "pos"},
        {"text": 'said "meh"', "label": "neg"},
    ]


def test_headerless_tsv_by_column_index(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("yes\tA dog runs .\tAn animal moves .\nno\tA cat sleeps .\tA cat runs .\n")
    ds = load_file(path, text_column="1", pair_column="2", label_column=0, labels=("yes", "no"))
    assert ds.task == "pair_classification" and ds.labels == ("yes", "no")
    assert ds.splits["train"][1] == {"premise": "A cat sleeps .", "hypothesis": "A cat runs .", "label": "no"}


def test_jsonl_similarity_and_translation(tmp_path):
    path = tmp_path / "sts.jsonl"
    rows = [
        {"sentence1": "a", "sentence2": "b", "score": 3.5},
        {"sentence1": "c", "sentence2": "d", "score": 1},
    ]
    path.write_text("\n\n".join(map(json.dumps, rows)) + "\n")  # a blank line between
    ds = load_dataset(str(path))
    assert ds.task == "similarity" and [r["score"] for r in ds.splits["train"]] == [3.5, 1.0]
    path = tmp_path / "mt.jsonl"
    path.write_text('{"en": "a dog", "de": "ein Hund"}\n')
    ds = load_file(path, text_column="en", target_column="de")
    assert ds.task == "translation" and ds.splits["train"] == [{"source": "a dog", "target": "ein Hund"}]
    ds = load_file(path, task="summarization", text_column="en", target_column="de")
    assert ds.splits["train"] == [{"document": "a dog", "summary": "ein Hund"}]


def test_user_tsv_wrong_column_count_counts_lines_of_quoted_newlines(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text('text\tlabel\n"two\nlines"\tpos\nfine\tneg\nbroken\n')
    with error("data.tsv:5: expected 2 tab-separated fields, found 1"):
        load_dataset(str(path))


def test_user_csv_unclosed_quote(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('text,label\nok,pos\n"never closed,neg\nmore,pos\n')
    with error("data.csv:3: not valid ','-separated text"):
        load_file(path)


def test_user_unknown_label(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\ngood,pos\nso-so,neutral\n")
    with error("data.csv:3: unknown label 'neutral'; allowed: pos, neg"):
        load_file(path, labels=("pos", "neg"))


def test_user_empty_files(tmp_path):
    for name, content in (("a.txt", "\n \n"), ("b.csv", "text,label\n"), ("c.jsonl", ""), ("d.tsv", "")):
        (tmp_path / name).write_text(content)
        with error(f"{name}: empty file"):
            load_dataset(str(tmp_path / name))


SIMILARITY = {"task": "similarity", "text_column": "s1", "pair_column": "s2", "label_column": "y"}


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("bad.jsonl", '{"text": "a"}\n{"text": "b",}\n', {}, "bad.jsonl:2: not valid JSON"),
        ("list.jsonl", '{"text": "a"}\n["b"]\n', {}, "list.jsonl:2: expected a JSON object"),
        ("field.jsonl", '{"text": "a", "label": "x"}\n{"txt": "b"}\n', {}, "field.jsonl:2: no field 'text'"),
        ("num.jsonl", '{"text": 5}\n', {}, "num.jsonl:1: text 5 is not a string"),
        ("score.csv", "s1,s2,y\na,b,high\n", SIMILARITY, "score.csv:2: score 'high' is not a number"),
        (
            "col.csv",
            "a,b\nx,y\n",
            {"text_column": "review"},
            "col.csv:1: no column 'review'; the header has a, b",
        ),
        ("idx.tsv", "x\ty\n", {"text_column": 5}, "idx.tsv: no column 5: rows have 2 fields"),
        ("lm.txt", "x\n", {"label_column": "y"}, "lm.txt: a text file holds task lm"),
        (
            "unused.csv",
            "text,label\nx,y\n",
            {"task": "lm", "label_column": "label"},
            "a label column has no use",
        ),
        ("what.csv", "a,b\nx,y\n", {}, "what.csv: cannot tell the task from the columns a, b"),
        ("data.xml", "<x/>", {}, "data.xml: unknown format '.xml'"),
        ("notsquad.json", '[{"text": "a"}]', {}, "notsquad.json: not SQuAD v1.1 JSON"),
    ],
)
def test_user_file_errors_name_file_and_line(tmp_path, name, content, options, message):
    (tmp_path / name).write_text(content)
    with error(message):
        load_file(tmp_path / name, **options)


def test_user_file_that_does_not_exist(tmp_path):
    with error(f"{tmp_path / 'nope.csv'}: no such file"):
        load_dataset(str(tmp_path / "nope.csv"))


def test_read_delimited_unquoted_keeps_stray_quotes(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text('g\tf\t2012\t1\t2.5\tHe said "hi.\tShe "left\n')
    assert read_delimited(path, "\t", quoted=False) == [
        (1, ["g", "f", "2012", "1", "2.5", 'He said "hi.', 'She "left'])
    ]


def test_registered_names_take_no_file_options(tmp_path):
    with error("text_column: options for a file, not for dataset 'sst2'"):
        load_dataset("sst2", write_sst2(tmp_path), text_column="x")
