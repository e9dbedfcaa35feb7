"""Classify handwritten digits (scikit-learn's 8×8 images) with a small convolutional network.

    python examples/digits_cnn.py    (needs scikit-learn: pip install 'scratchgrad[demo]')

Two 3×3 convolutions, each followed by ReLU and 2×2 max pooling (8×8 -> 4×4 -> 2×2), then one
linear layer: 6.4k weights, against the MLP's 9.6k in digits.py, and a better test accuracy.
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
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16 × 4 × 4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32 × 2 × 2
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def images(x):
    """(n, 64) rows of pixels as (n, 1, 8, 8) one-channel images."""
    return x.reshape(-1, 1, 8, 8)


def accuracy(model, x, y):
    with sg.no_grad():
        return (model(x).argmax(axis=1) == y).float().mean().item()


def train_digits_cnn(epochs=20, batch_size=32, lr=3e-3, seed=0, progress=True):
    """Adam on cross-entropy in mini-batches; returns (model, losses per step, test accuracy)."""
    sg.manual_seed(seed)
    x_train, y_train, x_test, y_test = sg.data.load_digits(seed=seed)
    x_train, x_test = images(x_train), images(x_test)
    model = make_model()
    optimizer = sg.optim.Adam(model.parameters(), lr=lr)
    loader = sg.data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True, seed=seed)
    losses = []
    bar = tqdm(range(epochs), desc="digits CNN", disable=not progress, leave=False)
    for _ in bar:
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if progress:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    return model, losses, accuracy(model, x_test, y_test)


if __name__ == "__main__":
    _, losses, test_accuracy = train_digits_cnn()
    print(f"digits CNN: final loss {losses[-1]:.4f}, test accuracy {test_accuracy:.1%}")
