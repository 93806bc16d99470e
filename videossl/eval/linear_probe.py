"""Linear probe on cached features (``--protocol cached``).

Training samples are the per-clip, time-pooled features of the training videos (every clip of
every video); features are standardised with the training mean and std (a parameter-free
BatchNorm); one linear layer is trained with Adam and cross-entropy. A test video's prediction is
the softmax averaged over all its clips (and crops). Reported: top-1, top-5 and mean per-class
accuracy.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videossl.eval.features import pooled


def train_linear_probe(
    train_maps: Tensor,
    train_labels: Tensor,
    num_classes: int,
    epochs: int = 100,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    seed: int = 0,
) -> tuple[nn.Linear, Tensor, Tensor]:
    """Returns (linear layer, mean, std)."""
    x = pooled(train_maps)  # [N, clips, D]
    clips = x.shape[1]
    x = x.flatten(0, 1)
    y = train_labels.repeat_interleave(clips)
    mean, std = x.mean(dim=0), x.std(dim=0) + 1e-6
    x = (x - mean) / std
    generator = torch.Generator().manual_seed(seed)
    layer = torch.nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        layer.weight.normal_(0, 0.01, generator=generator)
        layer.bias.zero_()
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(layer(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
    return layer, mean, std


@torch.no_grad()
def predict_videos(layer: nn.Linear, mean: Tensor, std: Tensor, maps: Tensor) -> Tensor:
    """Softmax averaged over every clip (and crop) of each video: ``[N, classes]``."""
    x = (pooled(maps) - mean) / std  # [N, clips, D]
    return F.softmax(layer(x), dim=-1).mean(dim=1)


def accuracies(probabilities: Tensor, labels: Tensor, num_classes: int) -> dict[str, float]:
    """top-1, top-5 and mean per-class accuracy in percent (classes absent from the test set are ignored)."""
    top = probabilities.topk(min(5, probabilities.shape[1]), dim=1).indices
    top1 = (top[:, 0] == labels).float()
    top5 = (top == labels[:, None]).any(dim=1).float()
    per_class = [top1[labels == c].mean().item() for c in range(num_classes) if (labels == c).any()]
    return {
        "top1": 100 * top1.mean().item(),
        "top5": 100 * top5.mean().item(),
        "mean_class": 100 * sum(per_class) / len(per_class),
    }
