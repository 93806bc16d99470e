import math
import os

import pytest
import torch
import torch.nn.functional as F

from videossl.losses import MemoryBank, MemoryQueue, info_nce_with_queue, momentum_update, nce_memory_bank_loss, nt_xent


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), dim=-1)


def naive_nt_xent(z_a, z_b, t):
    z = torch.cat([z_a, z_b]).tolist()
    n = len(z_a)
    total = 0.0
    for i in range(2 * n):
        pos = i + n if i < n else i - n
        sims = {j: sum(x * y for x, y in zip(z[i], z[j])) / t for j in range(2 * n) if j != i}
        total += -(sims[pos] - math.log(sum(math.exp(s) for s in sims.values())))
    return total / (2 * n)


def test_nt_xent_hand_value():
    eye = torch.eye(2)
    # each anchor: positive similarity 1, two negatives at 0 -> log(1 + 2 / e)
    assert nt_xent(eye, eye.clone(), temperature=1.0).item() == pytest.approx(math.log(1 + 2 / math.e), abs=1e-6)


@pytest.mark.parametrize("n", [1, 2, 5, 16])
@pytest.mark.parametrize("t", [0.07, 0.1, 0.5])
def test_nt_xent_equals_naive_reference(n, t):
    z_a, z_b = unit(n, 8, seed=n), unit(n, 8, seed=100 + n)
    assert nt_xent(z_a, z_b, t).item() == pytest.approx(naive_nt_xent(z_a, z_b, t), rel=1e-9, abs=1e-12)


def naive_info_nce(q, k, queue, t, extra=None):
    total = 0.0
    for i in range(len(q)):
        logits = [float(q[i] @ k[i])] + [float(q[i] @ key) for key in queue]
        if extra is not None:
            logits.append(float(q[i] @ extra[i]))
        logits = [v / t for v in logits]
        total += -(logits[0] - math.log(sum(math.exp(v) for v in logits)))
    return total / len(q)


@pytest.mark.parametrize("n, size", [(1, 3), (4, 10), (7, 32)])
@pytest.mark.parametrize("t", [0.07, 0.2])
@pytest.mark.parametrize("with_extra", [False, True])
def test_info_nce_with_queue_equals_naive_reference(n, size, t, with_extra):
    q, k, queue, extra = unit(n, 6, seed=1), unit(n, 6, seed=2), unit(size, 6, seed=3), unit(n, 6, seed=4)
    extra = extra if with_extra else None
    ours = info_nce_with_queue(q, k, queue, t, extra_negatives=extra).item()
    assert ours == pytest.approx(naive_info_nce(q, k, queue, t, extra), rel=1e-9)


def test_queue_is_fifo_and_wraps():
    queue = MemoryQueue(size=5, dim=2)
    first = torch.arange(6, dtype=torch.float32).view(3, 2)
    queue.enqueue(first)
    queue.enqueue(first + 100)  # 3 more keys: slots 3, 4, then 0
    assert queue.keys[:3].tolist() == [[104.0, 105.0], [2.0, 3.0], [4.0, 5.0]]
    assert queue.keys[3:].tolist() == [[100.0, 101.0], [102.0, 103.0]] and int(queue.pointer) == 1


@pytest.mark.parametrize("size, batches", [(3, [5]), (4, [3, 6, 1]), (5, [5, 2, 9])])
def test_queue_equals_a_naive_fifo_even_for_batches_larger_than_itself(size, batches):
    queue = MemoryQueue(size=size, dim=1)
    naive, pointer, value = queue.keys.clone().tolist(), 0, 0.0
    for n in batches:
        keys = torch.arange(value, value + n, dtype=torch.float32).view(n, 1)
        value += n
        queue.enqueue(keys)
        for key in keys.tolist():  # one key at a time, the definition of a FIFO ring
            naive[pointer] = key
            pointer = (pointer + 1) % size
        assert queue.keys.tolist() == naive and int(queue.pointer) == pointer


def test_momentum_update_blends_parameters_and_leaves_the_targets_statistics():
    online, target = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        online.weight.fill_(2.0), target.weight.fill_(1.0), online.running_mean.fill_(5.0)
        target.running_mean.fill_(-1.0)
    momentum_update(online, target, momentum=0.9)
    assert torch.allclose(target.weight, torch.full((3,), 1.1))
    assert torch.equal(target.running_mean, torch.full((3,), -1.0))  # the release moves parameters only


def naive_nce(anchor, positive, negatives, t, num_data, z):
    k = negatives.shape[1]
    pn = 1.0 / num_data
    total = 0.0
    for i in range(len(anchor)):
        p = math.exp(float(anchor[i] @ positive[i]) / t) / z
        loss = -math.log(p / (p + k * pn))
        for j in range(k):
            pj = math.exp(float(anchor[i] @ negatives[i, j]) / t) / z
            loss -= math.log(k * pn / (pj + k * pn))
        total += loss
    return total / len(anchor)


@pytest.mark.parametrize("n, k", [(1, 4), (3, 16)])
@pytest.mark.parametrize("t", [0.07, 0.5])
def test_nce_memory_bank_loss_equals_naive_reference(n, k, t):
    anchor, positive, negatives = unit(n, 5, seed=5), unit(n, 5, seed=6), unit(n, k, 5, seed=7)
    loss, z = nce_memory_bank_loss(anchor, positive, negatives, t, num_data=1000)
    scores = torch.exp(
        torch.cat([(anchor * positive).sum(1, keepdim=True), torch.einsum("nd,nkd->nk", anchor, negatives)], 1) / t
    )
    assert z.item() == pytest.approx(scores.mean().item() * 1000)  # CMC's estimate of Z
    assert loss.item() == pytest.approx(naive_nce(anchor, positive, negatives, t, 1000, z.item()), rel=1e-9)
    again, _ = nce_memory_bank_loss(anchor, positive, negatives, t, num_data=1000, normalizer=z)  # Z kept fixed
    assert again.item() == pytest.approx(loss.item(), rel=1e-12)


def test_memory_bank_never_draws_the_own_slot_and_overwrites():
    bank = MemoryBank(size=6, dim=4)
    indices = torch.tensor([0, 3, 5])
    draws = bank.sample_negatives(indices, 2000, generator=torch.Generator().manual_seed(0))
    for row, own in zip(draws, indices):
        assert own not in row and set(row.tolist()) == set(range(6)) - {int(own)}
    new = unit(3, 4, seed=9).float()
    bank.update(indices, new)
    assert torch.allclose(bank.memory[indices], new)


# ---- two processes (gloo) against one process over the whole batch ---------------------------


def _ddp_worker(rank, world, init_file, out_dir, inputs, weight):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    model = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        model.weight.copy_(weight)
    ddp = DistributedDataParallel(model)
    x_a, x_b = inputs
    b = len(x_a) // world
    part = slice(rank * b, (rank + 1) * b)
    loss = nt_xent(F.normalize(ddp(x_a[part]), dim=1), F.normalize(ddp(x_b[part]), dim=1), 0.1, gather=True)
    loss.backward()
    torch.save({"loss": loss.detach(), "grad": model.weight.grad}, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()  # neither process tears the group down while the other still uses it (gloo aborts)
    dist.destroy_process_group()


def test_gathered_nt_xent_on_two_processes_equals_one_process_on_the_whole_batch(tmp_path):
    torch.manual_seed(0)
    x_a, x_b, weight = torch.randn(8, 6), torch.randn(8, 6), torch.randn(4, 6)
    torch.multiprocessing.spawn(
        _ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path), (x_a, x_b), weight), nprocs=2, join=True
    )
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    model = torch.nn.Linear(6, 4, bias=False)
    with torch.no_grad():
        model.weight.copy_(weight)
    loss = nt_xent(F.normalize(model(x_a), dim=1), F.normalize(model(x_b), dim=1), 0.1)
    loss.backward()
    # DDP averages gradients over processes; each process's loss is the mean over its own anchors.
    assert torch.stack([r["loss"] for r in results]).mean().item() == pytest.approx(loss.item(), rel=1e-5)
    for r in results:
        assert torch.allclose(r["grad"], model.weight.grad, rtol=1e-4, atol=1e-6)
    # Without gathering each process would see only its own negatives: a different loss.
    local = nt_xent(F.normalize(model(x_a[:4]), dim=1), F.normalize(model(x_b[:4]), dim=1), 0.1)
    assert abs(local.item() - results[0]["loss"].item()) > 1e-3
