"""videossl: the shared core of the four self-supervised video methods and their evaluation.

Sub-packages: ``video`` (exact frame reading), ``data`` (dataset indexes, samplers,
augmentation, datasets, the synthetic motion dataset). Method folders and evaluation
folders build on this package; this package never imports them.
"""

__version__ = "0.1.0"
