"""micrograd's demo (demo.ipynb) on tapegrad: the code is micrograd's, only the
import differs. Trains MLP(2, [16, 16, 1]) on two moons for 100 steps and writes
the decision boundary to moons.png (or the path given as the first argument).

    bazel run //examples/python:moons -- /tmp/moons.png
"""

import math
import os
import random
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tapegrad.engine import Value  # noqa: E402  (micrograd: from micrograd.engine)
from tapegrad.nn import MLP  # noqa: E402


def make_moons(n=100, noise=0.1):
    """sklearn's make_moons recipe, with labels -1 / 1 as the demo uses them."""
    X, y = [], []
    for i in range(n):
        t = math.pi * (i % (n // 2)) / (n // 2 - 1)
        if i < n // 2:
            X.append([math.cos(t), math.sin(t)])
            y.append(-1)
        else:
            X.append([1 - math.cos(t), 1 - math.sin(t) - 0.5])
            y.append(1)
    X = np.array(X) + np.random.normal(0, noise, (n, 2))
    return X, np.array(y)


def main(path):
    np.random.seed(1337)
    random.seed(1337)
    n_samples = 100
    X, y = make_moons(n_samples)
    model = MLP(2, [16, 16, 1])  # 2-layer neural network
    print(model)
    print("number of parameters", len(model.parameters()))

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    for k in range(100):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        if k % 10 == 0 or k == 99:
            print(f"step {k} loss {total_loss.data}, accuracy {acc*100}%")

    h = 0.25
    x_min, x_max = X[:, 0].min() - 1, X[:, 0].max() + 1
    y_min, y_max = X[:, 1].min() - 1, X[:, 1].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Xmesh = np.c_[xx.ravel(), yy.ravel()]
    inputs = [list(map(Value, xrow)) for xrow in Xmesh]
    scores = list(map(model, inputs))
    Z = np.array([s.data > 0 for s in scores]).reshape(xx.shape)
    fig = plt.figure()
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral, alpha=0.8)
    plt.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral)
    plt.xlim(xx.min(), xx.max())
    plt.ylim(yy.min(), yy.max())
    plt.title("tapegrad: micrograd's demo, decision boundary after 100 steps")
    fig.savefig(path, dpi=100)
    print("wrote", path, "(%d samples)" % n_samples)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else
         os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", "."), "moons.png"))
