"""Sequence workloads for bench.py: the same code, weights and batches in scratchgrad and PyTorch,
timed in the same run.

  9. char-level GRU training step: vocabulary 27, embedding 32, GRU hidden 128, batch 32,
     sequence 16, cross-entropy on every position, Adam: time per step
 10. causal attention, forward + backward of F.scaled_dot_product_attention with B=16, H=4,
     T=64, head size 32 (the GPT's attention core): time per call

    .venv/bin/python benchmarks/sequence.py       (just these two)
"""
import os
import sys
import time

import numpy as np

VOCAB, EMBED, HIDDEN, BATCH, SEQ = 27, 32, 128, 32, 16
ATTN = {"B": 16, "H": 4, "T": 64, "D": 32}


def char_gru(lib):
    nn = lib.nn

    class CharGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.gru = nn.GRU(EMBED, HIDDEN, batch_first=True)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, idx):
            out, _ = self.gru(self.embed(idx))
            return self.head(out)

    return CharGRU()


def gru_pair(sg, torch):
    """The model in each library, with scratchgrad's initial weights copied into PyTorch's."""
    sg.manual_seed(0)
    sg_model, torch_model = char_gru(sg), char_gru(torch)
    torch_model.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in sg_model.state_dict().items()})
    return sg_model, torch_model


def gru_batches(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, VOCAB, (BATCH, SEQ)), rng.integers(0, VOCAB, (BATCH, SEQ)))
            for _ in range(steps)]


def bench_gru_step(sg, torch, repeats, steps=20):
    """Seconds per training step in each library (best of the repeats), and whether the losses
    after `steps` steps from the same weights agree."""
    data = gru_batches(steps)
    results = {}
    for _ in range(repeats):  # alternate the libraries, so a slow spell hits both
        for lib in (sg, torch):
            model = gru_pair(sg, torch)[0 if lib is sg else 1]
            opt = lib.optim.Adam(model.parameters(), lr=3e-3)
            batches = [(lib.tensor(x), lib.tensor(y)) for x, y in data]
            start = time.perf_counter()
            for x, y in batches:
                logits = model(x)
                loss = lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
            seconds = (time.perf_counter() - start) / steps
            best = results.get(lib, (np.inf, None))
            results[lib] = (min(best[0], seconds), loss.item())
    (sg_s, sg_loss), (pt_s, pt_loss) = results[sg], results[torch]
    return sg_s, pt_s, abs(sg_loss - pt_loss) <= 1e-4 * max(1.0, abs(pt_loss)), (sg_loss, pt_loss)


def attention_inputs(lib, seed=0):
    rng = np.random.default_rng(seed)
    shape = (ATTN["B"], ATTN["H"], ATTN["T"], ATTN["D"])
    return [lib.tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)
            for _ in range(3)]


def attention_once(lib, q, k, v, upstream):
    out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    out.backward(upstream)
    return out


def bench_attention(sg, torch, repeats, calls=20):
    """Seconds per causal attention forward + backward in each library, and whether the
    outputs and the query's gradient agree."""
    results, grads = {}, {}
    g = np.random.default_rng(1).standard_normal(
        (ATTN["B"], ATTN["H"], ATTN["T"], ATTN["D"]), dtype=np.float32)
    for _ in range(repeats):
        for lib in (sg, torch):
            q, k, v = attention_inputs(lib)
            upstream = lib.tensor(g)
            start = time.perf_counter()
            for _ in range(calls):
                out = attention_once(lib, q, k, v, upstream)
            seconds = (time.perf_counter() - start) / calls
            results[lib] = min(results.get(lib, np.inf), seconds)
            grads[lib] = (out.detach().numpy(), q.grad.detach().numpy() / calls)
    ok = all(np.allclose(a, b, rtol=1e-4, atol=1e-5) for a, b in zip(grads[sg], grads[torch]))
    return results[sg], results[torch], ok


def main():
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import torch

    import scratchgrad as sg
    sg_s, pt_s, ok, losses = bench_gru_step(sg, torch, repeats=3)
    print(f"GRU step:  scratchgrad {sg_s * 1e3:.2f} ms, PyTorch {pt_s * 1e3:.2f} ms, "
          f"ratio {sg_s / pt_s:.2f}x, losses agree: {ok} {losses}")
    sg_s, pt_s, ok = bench_attention(sg, torch, repeats=3)
    print(f"attention: scratchgrad {sg_s * 1e3:.2f} ms, PyTorch {pt_s * 1e3:.2f} ms, "
          f"ratio {sg_s / pt_s:.2f}x, values agree: {ok}")


if __name__ == "__main__":
    main()
