"""Fashion-MNIST for the Python examples: Debian's dataset-fashion-mnist (which
tools/setup.sh installs), read with gzip and numpy as any IDX file would be."""

import gzip
import os

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def load(split):
    """Images as rows of 784 pixels scaled to [0, 1] (float32), and their labels
    (int64); `split` is "train" or "t10k"."""
    with gzip.open(os.path.join(DATA, split + "-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(os.path.join(DATA, split + "-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images.reshape(-1, 784).astype(np.float32) / 255, labels.astype(np.int64)
