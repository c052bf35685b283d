"""Data: the embedded generated "world" language, real datasets by name, and users' own files.

- :mod:`minilm.data.world` -- the seeded generator of the embedded language and its tasks.
- :mod:`minilm.data.registry` -- ``load_dataset(name)``: the table of real datasets, where their
  files are, and the one entry point for every dataset.
- :mod:`minilm.data.dataset` -- the ``Dataset`` type: uniform records per task.
- :mod:`minilm.data.loaders` -- one loader per dataset, reading its own file format.
- :mod:`minilm.data.userfiles` -- ``load_file(path)``: a user's csv/tsv/jsonl/text/SQuAD file.
- :mod:`minilm.data.download` -- fetching a real dataset's files, checked by SHA-256.
- :mod:`minilm.data.formats` -- strict readers of text, numbers, CSV/TSV, JSON and JSON Lines files.
"""
