"""Training workloads for bench.py: the same networks, data, initial weights and batches in
scratchgrad and PyTorch, timed in the same run.

  4. noisy XOR, MLP 2-16-16-1 tanh, full-batch Adam lr 0.01, 500 steps
  5. digits, MLP 64-128-10 ReLU, Adam lr 1e-3, batches of 64: time per epoch
  6. MNIST-shaped synthetic batches of 128, MLP 784-512-256-10 ReLU, SGD: steps per second
  (4-6 also by hand in NumPy, floor.py: the floor under the libraries' times)
  7. digits CNN (conv 1->16, pool, conv 16->32, pool, linear), SGD, batches of 64: time per step
  8. MNIST-shaped CNN (conv 1->32, pool, conv 32->64, pool, linear 3136->10), SGD, batches of
     64: time per step, and the share of it that the matrix products alone take (the BLAS floor)
"""
import itertools
import time

import floor
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


def race(sg, torch, repeats, data, make_pair, optimizer, lr, loss, flat_output=False,
         activation=None):
    """Train the same network in both libraries, one step per (x, y) in data (NumPy arrays);
    make_pair() returns the (scratchgrad, PyTorch) models with identical initial weights.

    Returns the best seconds of each library and whether their final losses agree. With an
    activation (an MLP), the floor too: the same training by hand in NumPy (floor.py), its
    seconds and whether its final loss is scratchgrad's to 1e-5.
    """
    results = {}
    if activation is not None:
        weights = floor.initial_weights(make_pair()[0])
        results["floor"] = floor.train(weights, activation, data, optimizer, lr, loss, repeats)
    for lib in (sg, torch):
        batches = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
        loss_fn = getattr(lib.nn.functional, loss)
        runs = []
        for _ in range(repeats):
            model = make_pair()[0 if lib is sg else 1]
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
    agree = abs(sg_loss - pt_loss) <= 1e-3 * max(1.0, abs(pt_loss))
    if activation is None:
        return sg_s, pt_s, agree, (sg_loss, pt_loss)
    floor_s, floor_loss = results["floor"]
    floor_agrees = abs(floor_loss - sg_loss) <= 1e-5 * max(1.0, abs(sg_loss))
    return sg_s, pt_s, agree, (sg_loss, pt_loss), (floor_s, floor_agrees, floor_loss)


def bench_xor(sg, torch, repeats):
    x, y = sg.data.make_xor(1000, seed=0)
    data = [(x.numpy(), y.numpy())] * 500
    return race(sg, torch, repeats, data, lambda: mlp_pair(sg, torch, [2, 16, 16, 1], "Tanh"),
                "Adam", 0.01, "binary_cross_entropy_with_logits", flat_output=True,
                activation="Tanh")


def bench_digits_epoch(sg, torch, repeats):
    x_train, y_train, _, _ = sg.data.load_digits(seed=0)
    order = np.random.default_rng(0).permutation(len(y_train))
    data = [(x_train.numpy()[b], y_train.numpy()[b])
            for b in (order[i:i + 64] for i in range(0, len(order), 64))]
    return race(sg, torch, repeats, data, lambda: mlp_pair(sg, torch, [64, 128, 10], "ReLU"),
                "Adam", 1e-3, "cross_entropy", activation="ReLU")


def bench_mnist_shaped(sg, torch, repeats, steps=40):
    rng = np.random.default_rng(0)
    data = [(rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128))
            for _ in range(steps)]
    sg_s, pt_s, ok, losses, (floor_s, floor_ok, floor_loss) = race(
        sg, torch, repeats, data, lambda: mlp_pair(sg, torch, [784, 512, 256, 10], "ReLU"), "SGD",
        0.01, "cross_entropy", activation="ReLU")
    return steps / sg_s, steps / pt_s, ok, losses, (steps / floor_s, floor_ok, floor_loss)


# ---------------------------------------------------------------- CNNs (workloads 7 and 8)

def cnn_pair(sg, torch, channels, side):
    """conv 3x3 pad 1 -> ReLU -> max-pool 2, once per (in, out) in channels, then Flatten and
    Linear to 10 classes; scratchgrad's initial weights copied into PyTorch's model."""
    sg.manual_seed(0)
    models = []
    for lib in (sg, torch):
        nn, layers = lib.nn, []
        for c_in, c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        final = side // 2 ** len(channels)
        layers += [nn.Flatten(), nn.Linear(channels[-1][1] * final * final, 10)]
        models.append(nn.Sequential(*layers))
    sg_model, torch_model = models
    torch_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sg_model.state_dict().items()})
    return sg_model, torch_model


DIGITS_CNN = [(1, 16), (16, 32)], 8
MNIST_CNN = [(1, 32), (32, 64)], 28


def cnn_batches(side, steps, batch=64, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, 1, side, side), dtype=np.float32), rng.integers(0, 10, batch))
            for _ in range(steps)]


def bench_cnn(sg, torch, repeats, spec, steps):
    """Seconds per SGD step of the CNN `spec` in each library (best of repeats)."""
    channels, side = spec
    data = cnn_batches(side, steps)
    sg_s, pt_s, ok, losses = race(sg, torch, repeats, data,
                                  lambda: cnn_pair(sg, torch, channels, side), "SGD", 0.01,
                                  "cross_entropy")
    return sg_s / steps, pt_s / steps, ok, losses


def cnn_matmul_seconds(spec, repeats, batch=64):
    """The matrix products one SGD step of the CNN `spec` makes, timed alone with NumPy on arrays
    of the shapes and layouts scratchgrad uses: the floor under the step's time.

    Per convolution (rows = output pixels, 3x3 kernels): forward, windows (rows, 9·in) by the
    weight; weight gradient, gᵀ (out, rows) by the windows; input gradient (not for the first
    convolution, whose input is the data), the windows of g (rows, 9·out) by the flipped weight.
    Then the linear layer: forward, weight gradient and input gradient.
    """
    channels, side = spec
    rng = np.random.default_rng(0)
    products = []
    for i, (c_in, c_out) in enumerate(channels):
        rows = batch * (side >> i) ** 2
        cols = rng.random((1, rows, 9 * c_in), dtype=np.float32)
        weight = rng.random((1, c_out, 9 * c_in), dtype=np.float32)
        g = rng.random((1, rows, c_out), dtype=np.float32)
        products += [(cols, weight.transpose(0, 2, 1)), (g.transpose(0, 2, 1), cols)]
        if i:
            g_cols = rng.random((1, rows, 9 * c_out), dtype=np.float32)
            flipped = rng.random((1, c_in, 9 * c_out), dtype=np.float32)
            products.append((g_cols, flipped.transpose(0, 2, 1)))
    features = channels[-1][1] * (side >> len(channels)) ** 2
    x = rng.random((batch, features), dtype=np.float32)
    weight = rng.random((10, features), dtype=np.float32)
    g = rng.random((batch, 10), dtype=np.float32)
    products += [(x, weight.T), (g.T, x), (g, weight)]
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for a, b in products:
            a @ b
        runs.append(time.perf_counter() - start)
    return min(runs)
