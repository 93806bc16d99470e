"""Backbones, heads and the checkpoint format shared by every method and evaluation."""

from videossl.models.backbones import BACKBONES, build_backbone

__all__ = ["BACKBONES", "build_backbone"]
