"""The floor: bench.py's training workloads written by hand in NumPy, with no autograd.

The same MLPs, data, initial weights and batches as benchmarks/training.py; the forward, the
backward derived on paper, and the optimiser updating the arrays in place. What a training step
costs with no library at all; scratchgrad's ratio to it is its whole overhead.

    forward   a₀ = x,  zₗ = aₗ₋₁ Wₗᵀ + bₗ,  aₗ = act(zₗ) (not after the last layer)
    loss      mean binary cross-entropy with logits, or mean softmax cross-entropy
    backward  G = ∂loss/∂z_last (σ(z) − t, or softmax(z) − onehot, each / N), then per layer
              ∂Wₗ = Gᵀ aₗ₋₁,  ∂bₗ = Σ_rows G,  G ← (G Wₗ) ⊙ act'(zₗ₋₁)
    Adam      PyTorch's: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr/(1−β₁ᵗ) · m /
              (√v/√(1−β₂ᵗ) + ε); SGD: p ← p − lr·g
"""
import math
import time

import numpy as np


class HandMLP:
    """Weights as float32 arrays: [(W, b), ...] with W of shape (out, in), as nn.Linear."""

    def __init__(self, weights, activation):
        self.layers = [(np.array(w, np.float32), np.array(b, np.float32)) for w, b in weights]
        self.tanh = activation == "Tanh"

    def forward(self, x):
        """The logits, keeping each layer's input and pre-activation for the backward."""
        self.inputs, self.pre = [], []
        a = x
        for i, (w, b) in enumerate(self.layers):
            self.inputs.append(a)
            z = a @ w.T
            z += b
            if i < len(self.layers) - 1:
                self.pre.append(z)
                a = np.tanh(z) if self.tanh else np.maximum(z, 0)
            else:
                a = z
        return a

    def backward(self, g):
        """Gradients [(dW, db), ...] from g = ∂loss/∂logits."""
        grads = []
        for i in range(len(self.layers) - 1, -1, -1):
            w, _ = self.layers[i]
            grads.append((g.T @ self.inputs[i], g.sum(axis=0)))
            if i:
                g = g @ w
                act = self.inputs[i]  # the activation that fed layer i
                if self.tanh:
                    g *= 1 - act * act
                else:
                    g *= self.pre[i - 1] > 0
        return grads[::-1]


def bce_with_logits(z, t):
    """Mean binary cross-entropy of σ(z), and its gradient (σ(z) − t) / N."""
    loss = np.mean((1 - t) * z + np.logaddexp(0, -z))
    return loss, ((1 / (1 + np.exp(-z))) - t) / len(t)


def cross_entropy(z, labels):
    """Mean softmax cross-entropy, and its gradient (softmax(z) − onehot) / N."""
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, labels])
    g = e / total
    g[rows, labels] -= 1
    g /= len(labels)
    return loss, g


class HandAdam:
    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1 ** self.t)
        root_bc2 = math.sqrt(1 - beta2 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            denom = np.sqrt(v)
            denom /= root_bc2
            denom += self.eps
            p -= step_size * m / denom


class HandSGD:
    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.params, grads):
            p -= self.lr * g


def train(weights, activation, data, optimizer, lr, loss, repeats):
    """Best seconds over repeats of training from weights on data; and the last loss."""
    loss_fn = bce_with_logits if loss == "binary_cross_entropy_with_logits" else cross_entropy
    runs = []
    for _ in range(repeats):
        model = HandMLP(weights, activation)
        params = [array for layer in model.layers for array in layer]
        opt = (HandAdam if optimizer == "Adam" else HandSGD)(params, lr)
        start = time.perf_counter()
        for x, y in data:
            z = model.forward(x)
            flat = z.shape[1] == 1 and loss_fn is bce_with_logits
            value, g = loss_fn(z[:, 0] if flat else z, y)
            grads = model.backward(g[:, None] if flat else g)
            opt.step([array for layer in grads for array in layer])
        runs.append((time.perf_counter() - start, float(value)))
    return min(runs)


def initial_weights(sg_model):
    """[(W, b), ...] of a scratchgrad nn.Sequential of Linear layers (and activations)."""
    return [(m.weight.detach().numpy(), m.bias.detach().numpy())
            for m in sg_model if hasattr(m, "weight")]
