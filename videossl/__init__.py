"""videossl: the shared core of the four self-supervised video methods and their evaluation.

Sub-packages: ``video`` (exact frame reading), ``data`` (dataset indexes, samplers,
augmentation, datasets, the synthetic benchmark, the input contract), ``models`` (backbones,
the checkpoint format, the readers of the authors' releases), ``losses``, ``engine`` (the
training run, precision, DDP, schedules), ``eval`` (features, retrieval, linear probe,
finetuning, kNN, t-SNE); ``recipes.py`` (the paper presets) and ``atomic.py`` (file writes).
Method folders and evaluation folders build on this package; this package never imports them
(docs/design.md).
"""

__version__ = "0.1.0"
