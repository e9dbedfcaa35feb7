"""Learn XOR with a small MLP: the classic first network.

Points are uniform in [-1, 1]², labelled 1 where x0·x1 > 0 (top-right and bottom-left).
No straight line separates the classes, so the network needs its hidden layers.

    python examples/xor.py
"""
import scratchgrad as sg
from scratchgrad import nn
from scratchgrad.nn import functional as F

try:
    from tqdm import tqdm
except ImportError:  # tqdm is optional: without it, no progress bar
    def tqdm(iterable, **kwargs):
        return iterable


def make_model():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))


def train_xor(n=1000, steps=1000, lr=0.01, seed=0, progress=True):
    """Full-batch Adam on binary cross-entropy; returns (model, losses, training accuracy)."""
    sg.manual_seed(seed)
    x, y = sg.data.make_xor(n, seed=seed)
    model = make_model()
    optimizer = sg.optim.Adam(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(steps), desc="XOR", disable=not progress, leave=False)
    for step in bar:
        logits = model(x).reshape(-1)          # (n, 1) -> (n,), the target's shape
        loss = F.binary_cross_entropy_with_logits(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if progress and step % 50 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    with sg.no_grad():
        predicted = model(x).reshape(-1) > 0
    accuracy = (predicted == (y > 0.5)).float().mean().item()
    return model, losses, accuracy


if __name__ == "__main__":
    _, losses, accuracy = train_xor()
    print(f"XOR: final loss {losses[-1]:.4f}, training accuracy {accuracy:.1%}")
