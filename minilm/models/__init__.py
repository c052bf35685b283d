"""Neural models: the Transformer family (GPT, BERT), generation, and Hugging Face checkpoint I/O."""
