"""Every method's whole loss under DDP: two gloo processes with half the batch each give the same
parameter gradients as one process with the whole batch (DDP averages gradients, so every sum
and mean must be over the whole batch). A linear encoder without BatchNorm isolates the losses'
reductions; the methods' own encoders add only per-sample computation."""

import os

import pytest
import torch
import torch.nn.functional as F

from cvrl.losses import cvrl_loss
from tclr_pretraining.losses import tclr_loss
from videossl.losses.contrastive import info_nce_with_queue, nce_memory_bank_loss

BATCH, DIM, EMBED, LOCAL = 8, 6, 4, 4


def method_inputs():
    g = torch.Generator().manual_seed(0)
    return {
        "tclr": {
            "global": torch.randn(BATCH, 2, DIM, generator=g),
            "steps": torch.randn(BATCH, 2, LOCAL, DIM, generator=g),
            "local": torch.randn(BATCH, 2, LOCAL, DIM, generator=g),
        },
        "cvrl": {"a": torch.randn(BATCH, DIM, generator=g), "b": torch.randn(BATCH, DIM, generator=g)},
        "vtdl": {
            "q": torch.randn(BATCH, DIM, generator=g),
            "k": torch.randn(BATCH, DIM, generator=g),
            "n": torch.randn(BATCH, DIM, generator=g),
        },
        "tce": {
            "a": torch.randn(BATCH, DIM, generator=g),
            "p": torch.randn(BATCH, DIM, generator=g),
            "negatives": F.normalize(torch.randn(BATCH, 5, EMBED, generator=g), dim=2),
        },
    }


QUEUE = F.normalize(torch.randn(7, EMBED, generator=torch.Generator().manual_seed(1)), dim=1)


def method_loss(method, encoder, x, gather):
    """The method's loss over the embeddings ``encoder`` gives its inputs ``x`` (a part of the batch)."""

    def embed(t):
        return F.normalize(encoder(t), dim=-1)

    if method == "tclr":
        outputs = {"global": embed(x["global"]), "global_steps": embed(x["steps"]), "local": embed(x["local"])}
        return tclr_loss(outputs, 0.1, gather=gather)[0]
    if method == "cvrl":
        return cvrl_loss(embed(x["a"]), embed(x["b"]), 0.1, gather=gather)
    if method == "vtdl":  # the key encoder has no gradient
        return info_nce_with_queue(embed(x["q"]), embed(x["k"]).detach(), QUEUE, 0.07, extra_negatives=embed(x["n"]))
    # TCE: CMC's Z is fixed after the first batch; the bank negatives are constants
    return nce_memory_bank_loss(
        embed(x["a"]), embed(x["p"]), x["negatives"], 0.07, num_data=100, normalizer=torch.tensor(50.0)
    )[0]


def part(x, rank, world):
    b = BATCH // world
    return {k: v[rank * b : (rank + 1) * b] for k, v in x.items()}


def encoder_with(weight):
    encoder = torch.nn.Linear(DIM, EMBED, bias=False)
    with torch.no_grad():
        encoder.weight.copy_(weight)
    return encoder


def _worker(rank, world, init_file, out_dir, weight):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    grads = {}
    for method, x in method_inputs().items():
        encoder = encoder_with(weight)
        ddp = DistributedDataParallel(encoder)  # kept alive: its hooks average the gradients in backward
        method_loss(method, ddp, part(x, rank, world), gather=True).backward()
        grads[method] = encoder.weight.grad
    torch.save(grads, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()  # neither process tears the group down while the other still uses it (gloo aborts)
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_grads(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp_losses")
    weight = torch.randn(EMBED, DIM, generator=torch.Generator().manual_seed(2))
    torch.multiprocessing.spawn(_worker, args=(2, str(folder / "init"), str(folder), weight), nprocs=2, join=True)
    return weight, [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(2)]


@pytest.mark.parametrize("method", ["tclr", "cvrl", "vtdl", "tce"])
def test_two_processes_give_the_gradient_of_one_process_on_the_whole_batch(two_process_grads, method):
    weight, ranks = two_process_grads
    encoder = encoder_with(weight)
    method_loss(method, encoder, method_inputs()[method], gather=False).backward()
    for grads in ranks:
        assert torch.allclose(grads[method], encoder.weight.grad, rtol=1e-5, atol=1e-6), method
