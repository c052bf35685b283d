"""Evaluation metrics, written from their definitions and tested equal to the references people trust.

==================  ===============================================  ====================================
module              metrics                                          reference it is tested against
==================  ===============================================  ====================================
``classification``  accuracy, P/R/F1 (binary/micro/macro/weighted),  scikit-learn
                    confusion matrix, report table
``perplexity``      perplexity, bits per char / byte                 closed forms
``bleu``            corpus and sentence BLEU, 13a/intl/none          sacreBLEU
``rouge``           ROUGE-1/2/L/Lsum (+ ``porter`` stemmer)          rouge-score (and NLTK's Porter)
``squad``           SQuAD v1.1 exact match and F1                    the official v1.1 evaluation script
``similarity``      cosine, Pearson, Spearman                        NumPy / SciPy
``ssa``             Meena's sensibleness / specificity average       the definition (Adiwardana et al.)
``jax_metrics``     accuracy, confusion matrix, F1, token NLL (jit)  the NumPy versions above
==================  ===============================================  ====================================

``python evaluate.py --help`` lists the command-line front ends (:mod:`minilm.cli.metrics`, reading
files through :mod:`minilm.data.formats`); ``python bench/metrics.py`` times them against the references.
"""
