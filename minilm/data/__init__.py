"""Data: the embedded generated "world" language, real datasets by name, and users' own files.

- :mod:`minilm.data.world` -- the seeded generator of the embedded language and its tasks.
- :mod:`minilm.data.registry` -- ``load_dataset(name)`` and ``load_file(path)``: every dataset as
  uniform records per task.
- :mod:`minilm.data.formats` -- strict readers of text, CSV/TSV, JSON and JSON Lines files.
"""
