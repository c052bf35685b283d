"""Textbook references: each piece of minilm in its plain form, float64 NumPy, a few lines each.

minilm's own code is written for speed (blocked attention with one softmax over cache and prefix
blocks, custom-VJP GELU and LayerNorm, BLEU's n-grams counted by factorisation, CBOW's loop over
context slots); the functions here are the equations those fast paths must equal, with the paper
above each one and the shapes in its docstring.  The test suite checks minilm against them, and
checks them against closed forms, finite differences and the libraries people trust.

Check your own implementation against one the same way::

    import numpy as np
    import minilm.reference as ref

    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 4, 5, 8)).astype(np.float32) for _ in range(3))  # (B, H, T, d_k)
    mask = ref.causal_mask(5)  # (T, T), True = may attend
    expected = ref.attention(q, k, v, mask)  # (B, H, T, d_k), float64
    np.testing.assert_allclose(my_attention(q, k, v, mask), expected, rtol=1e-5, atol=1e-6)

float32 inputs agree with these float64 forms to about rtol=1e-5 (atol=1e-6 for values near zero);
float64 inputs to about 1e-12.  Metrics (BLEU, ROUGE, P/R/F1) agree exactly up to rounding.

==================  ===================================================================================
module              functions
==================  ===================================================================================
``attention``       softmax, causal_mask, attention (boolean or additive mask), multi_head_attention,
                    cross_attention (encoder-decoder)
``layers``          layer_norm, layer_norm_grads, gelu, gelu_grad (exact and tanh), sigmoid
``lstm``            lstm_step, lstm_sequence (gate order i, f, g, o; projection, clipping, padding)
``word2vec``        sgns_loss, sgns_grads, cbow_loss, cbow_grads, glove_weight, glove_cost, glove_grads
``lm``              log_softmax, token_nll, cross_entropy, perplexity
``optim``           adamw_step, global_norm, clip_by_global_norm
``bleu``            ngrams, modified_precision, closest_ref_length, brevity_penalty, corpus_bleu
``rouge``           rouge_n, lcs_length, rouge_l
``classification``  per_class_scores, macro_scores
==================  ===================================================================================
"""

from minilm.reference.attention import attention, causal_mask, cross_attention, multi_head_attention, softmax
from minilm.reference.bleu import brevity_penalty, closest_ref_length, corpus_bleu, modified_precision, ngrams
from minilm.reference.classification import macro_scores, per_class_scores
from minilm.reference.layers import gelu, gelu_grad, layer_norm, layer_norm_grads, sigmoid
from minilm.reference.lm import cross_entropy, log_softmax, perplexity, token_nll
from minilm.reference.lstm import lstm_sequence, lstm_step
from minilm.reference.optim import adamw_step, clip_by_global_norm, global_norm
from minilm.reference.rouge import lcs_length, rouge_l, rouge_n
from minilm.reference.word2vec import (
    cbow_grads,
    cbow_loss,
    glove_cost,
    glove_grads,
    glove_weight,
    sgns_grads,
    sgns_loss,
)

__all__ = [
    "adamw_step",
    "attention",
    "brevity_penalty",
    "causal_mask",
    "cbow_grads",
    "cbow_loss",
    "clip_by_global_norm",
    "closest_ref_length",
    "corpus_bleu",
    "cross_attention",
    "cross_entropy",
    "gelu",
    "gelu_grad",
    "global_norm",
    "glove_cost",
    "glove_grads",
    "glove_weight",
    "layer_norm",
    "layer_norm_grads",
    "lcs_length",
    "log_softmax",
    "lstm_sequence",
    "lstm_step",
    "macro_scores",
    "modified_precision",
    "multi_head_attention",
    "ngrams",
    "per_class_scores",
    "perplexity",
    "rouge_l",
    "rouge_n",
    "sgns_grads",
    "sgns_loss",
    "sigmoid",
    "softmax",
    "token_nll",
]
