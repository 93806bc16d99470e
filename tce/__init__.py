"""TCE: temporally coherent embeddings for self-supervised video representation learning (Knights et al., ICPR 2020)."""
