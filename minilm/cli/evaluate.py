"""``python evaluate.py COMMAND [--key=value ...]``: metrics and model evaluations.

Every command is a config dataclass and a ``run(cfg)`` function in a module of :mod:`minilm.cli`
(see :mod:`minilm.cli.dispatch`); bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

from minilm.cli.dispatch import Command, dispatch

COMMANDS: dict[str, Command] = {
    "bleu": Command("minilm.cli.metrics", "corpus BLEU, sacreBLEU-compatible", "BleuConfig", "run_bleu"),
    "rouge": Command("minilm.cli.metrics", "ROUGE-1/2/L/Lsum as rouge-score", "RougeConfig", "run_rouge"),
    "classification": Command(
        "minilm.cli.metrics",
        "accuracy, P/R/F1, confusion matrix",
        "ClassificationConfig",
        "run_classification",
    ),
    "squad": Command("minilm.cli.metrics", "SQuAD v1.1 exact match and F1", "SquadConfig", "run_squad"),
    "ssa": Command("minilm.cli.metrics", "Meena's SSA from human labels", "SsaConfig", "run_ssa"),
    "ssa-label": Command("minilm.cli.ssa_label", "label responses for SSA in the terminal"),
    "correlation": Command(
        "minilm.cli.metrics", "Pearson and Spearman of two columns", "CorrelationConfig", "run_correlation"
    ),
    "perplexity": Command(
        "minilm.cli.model_eval",
        "perplexity (GPT) or pseudo-perplexity (BERT)",
        "PerplexityConfig",
        "run_perplexity",
    ),
    "embed": Command(
        "minilm.cli.model_eval", "sentence embeddings of each line, as .npy", "EmbedConfig", "run_embed"
    ),
    "similarity": Command(
        "minilm.cli.model_eval",
        "STS Spearman/Pearson of embedding cosines",
        "SimilarityConfig",
        "run_similarity",
    ),
    "context": Command(
        "minilm.cli.elmo", "ELMo: a word's neighbours in context", "ContextConfig", "run_context"
    ),
    "icl": Command("minilm.cli.icl", "in-context k-shot classification with a causal LM", "Config", "run"),
    "task": Command("minilm.cli.finetune", "score a fine-tuned run on a task", "EvalConfig", "run_task"),
    "classify": Command(
        "minilm.cli.finetune", "the same as task (its earlier name)", "EvalConfig", "run_task"
    ),
    "vectors": Command(
        "minilm.cli.vectors", "word vectors: similarity, analogies, neighbours", "EvalConfig", "run_evaluate"
    ),
}


def main(argv: list[str]) -> int | None:
    return dispatch("evaluate.py", COMMANDS, argv)
