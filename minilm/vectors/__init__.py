"""Static word vectors: word2vec (skip-gram, CBOW), fastText, GloVe, and a KeyedVectors-like object."""
