"""Training workloads for bench.py: the same networks, data, initial weights and batches in
scratchgrad and PyTorch, timed in the same run.

  4. noisy XOR, MLP 2-16-16-1 tanh, full-batch Adam lr 0.01, 500 steps
  5. digits, MLP 64-128-10 ReLU, Adam lr 1e-3, batches of 64: time per epoch
  6. MNIST-shaped synthetic batches of 128, MLP 784-512-256-10 ReLU, SGD: steps per second
"""
import itertools
import time

import numpy as np


def mlp_pair(sg, torch, sizes, activation):
    """An MLP in each library with identical initial weights (scratchgrad's, copied)."""
    sg.manual_seed(0)
    sg_layers, torch_layers = [], []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        sg_layers.append(sg.nn.Linear(n_in, n_out))
        torch_layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            sg_layers.append(getattr(sg.nn, activation)())
            torch_layers.append(getattr(torch.nn, activation)())
    sg_model, torch_model = sg.nn.Sequential(*sg_layers), torch.nn.Sequential(*torch_layers)
    torch_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sg_model.state_dict().items()})
    return sg_model, torch_model


def race(sg, torch, repeats, data, sizes, activation, optimizer, lr, loss, flat_output=False):
    """Train the same MLP in both libraries, one step per (x, y) in data (NumPy arrays).

    Returns the best seconds of each library and whether their final losses agree.
    """
    results = {}
    for lib in (sg, torch):
        batches = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
        loss_fn = getattr(lib.nn.functional, loss)
        runs = []
        for _ in range(repeats):
            model = mlp_pair(sg, torch, sizes, activation)[0 if lib is sg else 1]
            opt = getattr(lib.optim, optimizer)(model.parameters(), lr=lr)
            start = time.perf_counter()
            for x, y in batches:
                out = model(x)
                step_loss = loss_fn(out.reshape(-1) if flat_output else out, y)
                opt.zero_grad()
                step_loss.backward()
                opt.step()
            runs.append((time.perf_counter() - start, step_loss.item()))
        results[lib] = min(runs)
    (sg_s, sg_loss), (pt_s, pt_loss) = results[sg], results[torch]
    return sg_s, pt_s, abs(sg_loss - pt_loss) <= 1e-3 * max(1.0, abs(pt_loss)), (sg_loss, pt_loss)


def bench_xor(sg, torch, repeats):
    x, y = sg.data.make_xor(1000, seed=0)
    data = [(x.numpy(), y.numpy())] * 500
    return race(sg, torch, repeats, data, [2, 16, 16, 1], "Tanh", "Adam", 0.01,
                "binary_cross_entropy_with_logits", flat_output=True)


def bench_digits_epoch(sg, torch, repeats):
    x_train, y_train, _, _ = sg.data.load_digits(seed=0)
    order = np.random.default_rng(0).permutation(len(y_train))
    data = [(x_train.numpy()[b], y_train.numpy()[b])
            for b in (order[i:i + 64] for i in range(0, len(order), 64))]
    return race(sg, torch, repeats, data, [64, 128, 10], "ReLU", "Adam", 1e-3, "cross_entropy")


def bench_mnist_shaped(sg, torch, repeats, steps=40):
    rng = np.random.default_rng(0)
    data = [(rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128))
            for _ in range(steps)]
    sg_s, pt_s, ok, losses = race(sg, torch, repeats, data, [784, 512, 256, 10], "ReLU", "SGD",
                                  0.01, "cross_entropy")
    return steps / sg_s, steps / pt_s, ok, losses
