"""A small CNN on Fashion-MNIST from Python: two blocks of conv 3x3, batch norm,
ReLU and 2x2 max pooling (32 and 64 channels), then linear 3136-128-10; Adam,
batch 64. Reaches at least 91% test accuracy in 5 epochs (the C++ twin is
examples/fashion_cnn.cc). Prints one line per epoch: loss, accuracy, time.

    bazel run -c opt //examples/python:fashion_cnn [-- EPOCHS]

The data are Debian's dataset-fashion-mnist (tools/setup.sh installs it; read by
fashion_data.py).
"""

import sys
import time

import numpy as np

import tapegrad
from tapegrad import Tensor, nn

import fashion_data
from fashion_data import accuracy

BATCH = 64


def load(split):
    """Images [N, 1, 28, 28] scaled to [0, 1] (float32) and labels (int64)."""
    images, labels = fashion_data.load(split)
    return images.reshape(-1, 1, 28, 28), labels


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, seed=0), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, seed=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128, seed=2), nn.ReLU(),
        nn.Linear(128, 10, seed=3))


def main(epochs):
    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    model = small_cnn()
    print(model)
    opt = nn.Adam(model.parameters(), lr=1e-3)
    order = np.random.default_rng(0)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        began, total, seen, correct = time.perf_counter(), 0.0, 0, 0
        for batch in np.array_split(order.permutation(len(train_x)),
                                    len(train_x) // BATCH):
            with tapegrad.step():  # the step's tensors are freed at its end
                logits = model(Tensor(train_x[batch]))
                loss = tapegrad.cross_entropy(logits, Tensor(train_y[batch]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
                correct += int((logits.numpy().argmax(axis=1) == train_y[batch]).sum())
            seen += len(batch)
        seconds = time.perf_counter() - began
        print("epoch %2d  loss %.4f  train accuracy %.2f%%  test accuracy %.2f%%  "
              "%.1f s/epoch (%.1f ms/step)  elapsed %.1f s"
              % (epoch, total / seen, 100 * correct / seen,
                 100 * accuracy(model, test_x, test_y), seconds,
                 1000 * seconds * BATCH / seen, time.perf_counter() - start))
    final = accuracy(model, test_x, test_y)
    print("test accuracy %.2f%% (target: at least 91%%)" % (100 * final))
    return 0 if final >= 0.91 else 2


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
