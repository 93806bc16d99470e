"""Shared evaluation: features from any checkpoint, retrieval, linear probe (never imports a method folder)."""
