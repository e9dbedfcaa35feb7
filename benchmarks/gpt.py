"""A GPT training step in scratchgrad and PyTorch: the same code, weights and batches.

Configuration (issue 12): 4 layers, 4 heads, width 128, context 64, batch 16, vocabulary 65,
pre-norm blocks with causal self-attention and a GELU MLP, AdamW. The model is written once
against a `lib` (scratchgrad or torch); attention uses F.scaled_dot_product_attention(is_causal)
when both libraries have it, else the same explicit softmax(q kᵀ/√d + mask) v in both.

    .venv/bin/python benchmarks/gpt.py [--steps 20] [--repeats 3]
"""
import argparse
import math
import os
import sys
import time

import numpy as np

LAYERS, HEADS, WIDTH, CONTEXT, BATCH, VOCAB = 4, 4, 128, 64, 16, 65


def use_sdpa(sg):
    return hasattr(sg.nn.functional, "scaled_dot_product_attention")


def gpt(lib, sdpa):
    """The GPT class for lib (scratchgrad or torch)."""
    nn, F = lib.nn, lib.nn.functional

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(WIDTH, 3 * WIDTH)
            self.proj = nn.Linear(WIDTH, WIDTH)
            # -inf above the diagonal: position t attends to positions <= t
            self.mask = lib.tensor(np.triu(np.full((CONTEXT, CONTEXT), -np.inf, np.float32), 1))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).split(C, 2)
            q, k, v = (t.reshape(B, T, HEADS, C // HEADS).transpose(1, 2) for t in (q, k, v))
            if sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(C // HEADS))
                y = F.softmax(scores + self.mask[:T, :T], -1) @ v
            return self.proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn = nn.LayerNorm(WIDTH), SelfAttention()
            self.ln2 = nn.LayerNorm(WIDTH)
            self.mlp = nn.Sequential(nn.Linear(WIDTH, 4 * WIDTH), nn.GELU(),
                                     nn.Linear(4 * WIDTH, WIDTH))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(VOCAB, WIDTH)
            self.positions = nn.Embedding(CONTEXT, WIDTH)
            self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.ln_f = nn.LayerNorm(WIDTH)
            self.head = nn.Linear(WIDTH, VOCAB, bias=False)

        def forward(self, idx, targets):
            T = idx.shape[1]
            x = self.tokens(idx) + self.positions(lib.arange(T))
            for block in self.blocks:
                x = block(x)
            logits = self.head(self.ln_f(x))
            return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))

    return GPT


def models(sg, torch, sdpa):
    """The same GPT in both libraries: scratchgrad's initial weights, copied into PyTorch's."""
    sg.manual_seed(0)
    ours = gpt(sg, sdpa)()
    theirs = gpt(torch, sdpa)()
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def batches(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, VOCAB, (BATCH, CONTEXT)), rng.integers(0, VOCAB, (BATCH, CONTEXT)))
            for _ in range(steps)]


def train(lib, model, data):
    """AdamW steps over data; returns the seconds taken and the losses."""
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
    data = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
    losses = []
    start = time.perf_counter()
    for x, y in data:
        loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return time.perf_counter() - start, losses


def bench_gpt(sg, torch, repeats, steps=20):
    """(scratchgrad s/step, PyTorch s/step, losses agree to 1e-4 after `steps`, final losses)."""
    sdpa = use_sdpa(sg)
    data = batches(steps)
    best = {}
    for _ in range(repeats):
        ours, theirs = models(sg, torch, sdpa)
        for lib, model in ((sg, ours), (torch, theirs)):
            seconds, losses = train(lib, model, data)
            if lib not in best or seconds < best[lib][0]:
                best[lib] = (seconds, losses)
    (sg_s, sg_losses), (pt_s, pt_losses) = best[sg], best[torch]
    ok = abs(sg_losses[-1] - pt_losses[-1]) <= 1e-4
    return sg_s / steps, pt_s / steps, ok, (sg_losses[-1], pt_losses[-1])


def torch_on_one_thread(sg, torch, repeats, steps=20):
    """PyTorch's seconds per step with one thread, as scratchgrad's elementwise work runs (NumPy's
    ufuncs use one core; only its matrix products use two): the comparison at equal cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = batches(steps)
        best = min(train(torch, models(sg, torch, use_sdpa(sg))[1], data)[0] for _ in range(repeats))
    finally:
        torch.set_num_threads(threads)
    return best / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import torch

    import scratchgrad as sg
    sg_s, pt_s, ok, (sg_loss, pt_loss) = bench_gpt(sg, torch, args.repeats, args.steps)
    one_s = torch_on_one_thread(sg, torch, args.repeats, args.steps)
    print(f"GPT step ({'sdpa' if use_sdpa(sg) else 'explicit'} attention): scratchgrad "
          f"{sg_s * 1e3:.1f} ms, PyTorch {pt_s * 1e3:.1f} ms ({torch.get_num_threads()} threads), "
          f"ratio {sg_s / pt_s:.2f}; loss after {args.steps} steps {sg_loss:.6f} vs {pt_loss:.6f} "
          f"({'same' if ok else 'DIFFERENT'}); PyTorch on 1 thread {one_s * 1e3:.1f} ms, "
          f"ratio {sg_s / one_s:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
