"""Classify handwritten digits (scikit-learn's 8×8 images) with an MLP.

    python examples/digits.py        (needs scikit-learn: pip install 'scratchgrad[demo]')
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
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def accuracy(model, x, y):
    with sg.no_grad():
        return (model(x).argmax(axis=1) == y).float().mean().item()


def train_digits(epochs=40, batch_size=64, lr=1e-3, seed=0, progress=True):
    """The MLP; returns (model, losses per step, test accuracy)."""
    return train_classifier(make_model, epochs, batch_size, lr, seed, progress, desc="digits")


def train_classifier(make_model, epochs, batch_size, lr, seed=0, progress=True, desc="digits",
                     prepare=lambda x: x):
    """Adam on cross-entropy in mini-batches over the digits (inputs passed through prepare);
    returns (model, losses per step, test accuracy)."""
    sg.manual_seed(seed)
    x_train, y_train, x_test, y_test = sg.data.load_digits(seed=seed)
    x_train, x_test = prepare(x_train), prepare(x_test)
    model = make_model()
    optimizer = sg.optim.Adam(model.parameters(), lr=lr)
    loader = sg.data.DataLoader((x_train, y_train), batch_size=batch_size, shuffle=True, seed=seed)
    losses = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
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
    _, losses, test_accuracy = train_digits()
    print(f"digits: final loss {losses[-1]:.4f}, test accuracy {test_accuracy:.1%}")
