"""micrograd's demo, shared by the tests and the benchmark: two-moons data made
deterministically (sklearn's make_moons recipe with Python's own random), and the
demo's loss and training step written exactly as micrograd's demo.ipynb has them.
The module passed in as `engine`/`nn` decides whose Value runs it."""

import math
import random


def make_moons(n=100, noise=0.1, seed=0):
    rng = random.Random(seed)
    half = n // 2
    X, y = [], []
    for i in range(half):
        t = math.pi * i / (half - 1)
        X.append([math.cos(t) + rng.gauss(0, noise), math.sin(t) + rng.gauss(0, noise)])
        y.append(-1)
    for i in range(n - half):
        t = math.pi * i / (n - half - 1)
        X.append([1 - math.cos(t) + rng.gauss(0, noise),
                  1 - math.sin(t) - 0.5 + rng.gauss(0, noise)])
        y.append(1)
    return X, y


def make_loss(Value, model, X, y):
    """micrograd demo's loss(), with batch_size=None."""

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        # forward the model to get scores
        scores = list(map(model, inputs))
        # svm "max-margin" loss
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        # L2 regularization
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        # also get accuracy
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    return loss


def train(Value, MLP, steps, n=100, seed=1337, on_step=None):
    """micrograd demo's optimization loop; returns the losses and accuracies."""
    random.seed(seed)
    X, y = make_moons(n)
    model = MLP(2, [16, 16, 1])  # 2-layer neural network
    loss = make_loss(Value, model, X, y)
    history = []
    for k in range(steps):
        # forward
        total_loss, acc = loss()
        # backward
        model.zero_grad()
        total_loss.backward()
        # update (sgd)
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc))
        if on_step is not None:
            on_step(k)
    return history
