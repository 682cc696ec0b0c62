"""Fashion-MNIST for the Python examples: Debian's dataset-fashion-mnist (which
tools/setup.sh installs), read with gzip and numpy as any IDX file would be, and a
model's test accuracy on it."""

import gzip
import os

import numpy as np

import tapegrad

DATA = "/usr/share/datasets/fashion-mnist"


def load(split):
    """Images as rows of 784 pixels scaled to [0, 1] (float32), and their labels
    (int64); `split` is "train" or "t10k"."""
    with gzip.open(os.path.join(DATA, split + "-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(os.path.join(DATA, split + "-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images.reshape(-1, 784).astype(np.float32) / 255, labels.astype(np.int64)


def accuracy(model, images, labels):
    """The share of `images` that `model` (in evaluation mode meanwhile) labels
    right, 1000 at a time."""
    model.eval()
    correct = 0
    with tapegrad.no_grad():
        for i in range(0, len(images), 1000):
            with tapegrad.step():
                logits = model(tapegrad.Tensor(images[i:i + 1000])).numpy()
            correct += int((logits.argmax(axis=1) == labels[i:i + 1000]).sum())
    model.train()
    return correct / len(images)
