"""CVRL's contrastive loss and its reduction."""

from videossl.losses import nt_xent


def cvrl_loss(z_first, z_second, temperature=0.1, gather=False):
    """NT-Xent over the two clips' embeddings ``[N, D]``, reduced as the release does
    (losses/losses.py): ``loss_a + loss_b``, the first clips as anchors and the second clips as
    anchors, each a mean over its N anchors. ``nt_xent`` is the mean over all 2N anchors, so the
    release's loss is twice it (the step size of SGD depends on this)."""
    return 2 * nt_xent(z_first, z_second, temperature, gather=gather)
