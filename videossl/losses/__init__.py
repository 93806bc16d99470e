"""Contrastive losses shared by the methods: small functions with tests against naive references."""

from videossl.losses.contrastive import (
    MemoryBank,
    MemoryQueue,
    info_nce_with_queue,
    momentum_update,
    nce_memory_bank_loss,
    nt_xent,
)

__all__ = ["MemoryBank", "MemoryQueue", "info_nce_with_queue", "momentum_update", "nce_memory_bank_loss", "nt_xent"]
