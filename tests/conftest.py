import numpy as np
import pytest

from tests.helpers import make_tiny_synthetic


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Each test probes into its own cache: no state leaks between tests or from the user's cache."""
    monkeypatch.setenv("VIDEOSSL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    """A tiny synthetic dataset (3 classes x 4 videos, 20 frames of 32x32): (video root, split dir)."""
    return make_tiny_synthetic(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
