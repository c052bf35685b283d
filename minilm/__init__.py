"""minilm: a readable, tested NumPy/JAX/Flax NNX reference for NLP transfer learning.

Word vectors -> ELMo-style biLM -> Transformers (GPT, BERT) -> fine-tuning methods, each in one
file that names its paper and equations, each checked against a reference implementation.
"""

__version__ = "0.1.0"
