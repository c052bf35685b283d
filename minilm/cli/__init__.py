"""Command-line entry points: ``train.py`` and ``evaluate.py`` dispatch to these."""
