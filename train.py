#!/usr/bin/env python
"""Train anything in minilm. ``python train.py --help`` lists the commands and settings."""

from minilm.cli.train import main
from minilm.errors import run_cli

if __name__ == "__main__":
    run_cli(main)
