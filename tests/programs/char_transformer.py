"""A character-level transformer, written the way PyTorch's tutorials write one.

It runs unchanged under PyTorch (`python char_transformer.py ...`) and under scratchgrad
(`scratchgrad run char_transformer.py ...`); tests/test_pytorch_program.py runs it both ways
and compares the losses it prints.

    python char_transformer.py --data input.txt [--steps 30] [--save-init init.npz |
        --load-init init.npz] [--no-shuffle] [--checkpoint ckpt.pt]
"""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--chars", type=int, default=3000, help="how much of the text to use")
parser.add_argument("--block-size", type=int, default=16)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--n-embd", type=int, default=32)
parser.add_argument("--n-head", type=int, default=4)
parser.add_argument("--n-layer", type=int, default=2)
parser.add_argument("--dropout", type=float, default=0.0)
parser.add_argument("--steps", type=int, default=30)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--no-shuffle", action="store_true")
parser.add_argument("--save-init", help="write the initial weights to this .npz")
parser.add_argument("--load-init", help="start from the weights in this .npz")
parser.add_argument("--checkpoint", default="ckpt.pt")
args = parser.parse_args()

device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(1337)


class CharDataset(Dataset):
    """Every window of block_size characters, with the same window shifted by one as targets."""

    def __init__(self, text, block_size):
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.block_size = block_size
        self.data = torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def __len__(self):
        return len(self.data) - self.block_size

    def __getitem__(self, idx):
        chunk = self.data[idx:idx + self.block_size + 1]
        return chunk[:-1], chunk[1:]


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.attn_dropout = nn.Dropout(dropout)
        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size))
                             .view(1, 1, block_size, block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                 nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class CharTransformer(nn.Module):
    def __init__(self, vocab_size, n_embd, n_head, n_layer, block_size, dropout):
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, block_size, dropout)
                                     for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, top_k)
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


with open(args.data) as f:
    text = f.read()[:args.chars]
dataset = CharDataset(text, args.block_size)
loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=not args.no_shuffle,
                    num_workers=0, pin_memory=False, drop_last=True)
config = dict(vocab_size=len(dataset.chars), n_embd=args.n_embd, n_head=args.n_head,
              n_layer=args.n_layer, block_size=args.block_size, dropout=args.dropout)
model = CharTransformer(**config).to(device)
if args.load_init:
    weights = np.load(args.load_init)
    model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
if args.save_init:
    np.savez(args.save_init, **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
print(f"{sum(p.numel() for p in model.parameters())} parameters")

optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95),
                              weight_decay=0.1)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps)

model.train()
step = 0
while step < args.steps:
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        print(f"step {step} loss {loss.item():.6f} norm {float(norm):.6f} "
              f"lr {scheduler.get_last_lr()[0]:.8f}")
        step += 1
        if step == args.steps:
            break

torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict()["last_epoch"], "step": step, "config": config},
           args.checkpoint)
checkpoint = torch.load(args.checkpoint, map_location=device)
restored = CharTransformer(**checkpoint["config"])
restored.load_state_dict(checkpoint["model"])
restored.eval()
model.eval()
x, _ = dataset[0]
assert torch.allclose(restored(x[None])[0], model(x[None])[0])
assert checkpoint["step"] == args.steps
print("checkpoint ok")

g = torch.Generator().manual_seed(42)
start = torch.zeros((1, 1), dtype=torch.long, device=device)
out = restored.generate(start, max_new_tokens=50, top_k=10, generator=g)[0].tolist()
print("sample:", repr("".join(dataset.chars[i] for i in out)))
