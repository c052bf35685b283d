#!/usr/bin/env python
"""Evaluate with minilm's metrics and models. ``python evaluate.py --help`` lists the commands."""

from minilm.cli.evaluate import main
from minilm.errors import run_cli

if __name__ == "__main__":
    run_cli(main)
