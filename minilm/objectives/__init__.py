"""Training objectives: each one's loss, the evaluator that scores a model on held-out data with it,
and the batches it needs.

==================  ==========================================================================
module              contents
==================  ==========================================================================
``lm``              causal LM loss, held-out evaluator over windows, perplexity of sequences
``mlm``             BERT masking, masked-LM loss and evaluator, pseudo-log-likelihood scoring
``classification``  classification loss, a classifier's logits over a set, loss and accuracy
``bilm``            ELMo's biLM loss and per-direction held-out perplexity
``evaluate``        fixed-size padded batches: one compiled function for a set of any size
==================  ==========================================================================

The token negative log-likelihood they all sum is :func:`minilm.metrics.jax_metrics.token_nll`.
"""
