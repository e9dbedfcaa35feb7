"""Classify handwritten digits (scikit-learn's 8×8 images) with a small convolutional network.

    python examples/digits_cnn.py    (needs scikit-learn: pip install 'scratchgrad[demo]')

Two 3×3 convolutions, each followed by ReLU and 2×2 max pooling (8×8 -> 4×4 -> 2×2), then one
linear layer: 6.4k weights, against the MLP's 9.6k in digits.py, and a better test accuracy.
"""
import os
import sys

from scratchgrad import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # digits.py, beside this file
from digits import train_classifier


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16 × 4 × 4
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32 × 2 × 2
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def images(x):
    """(n, 64) rows of pixels as (n, 1, 8, 8) one-channel images."""
    return x.reshape(-1, 1, 8, 8)


def train_digits_cnn(epochs=20, batch_size=32, lr=3e-3, seed=0, progress=True):
    """The CNN, trained like the MLP; returns (model, losses per step, test accuracy)."""
    return train_classifier(make_model, epochs, batch_size, lr, seed, progress,
                            desc="digits CNN", prepare=images)


if __name__ == "__main__":
    _, losses, test_accuracy = train_digits_cnn()
    print(f"digits CNN: final loss {losses[-1]:.4f}, test accuracy {test_accuracy:.1%}")
