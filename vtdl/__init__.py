"""VTDL: video representation learning with temporal negatives and temporally consistent augmentation
(Wang et al., 2020)."""
