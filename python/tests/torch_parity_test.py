"""Every unary op of the library against PyTorch's function of the same name:
values and gradients in f64 and f32, at random points, at the special values
(0, -0, +-inf, NaN) and at the points where a formula switches branch. The ops
come from the library (tg_op_name), so an op added there is tested here too."""

import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tapegrad import Tensor, _lib

UNARY = sorted(_lib.op_numbers(_lib.UNARY))
# Ops defined for positive arguments only (elsewhere both give NaN).
POSITIVE = {"log", "sqrt", "rsqrt", "log1p"}
# Each op with parameters, once with its defaults and once with others.
PARAMETERS = {
    "softplus": [(), (2.0, 1.5)],
    "leaky_relu": [(), (0.25,)],
    "elu": [(), (1.5,)],
}
# Where the parameters are keywords in torch.
TORCH_KEYWORDS = {"softplus": ("beta", "threshold"), "leaky_relu": ("negative_slope",),
                  "elu": ("alpha",)}


def torch_op(name, params):
    fn = getattr(torch, name, None) or getattr(F, name)
    kw = dict(zip(TORCH_KEYWORDS.get(name, ()), params))
    return lambda t: fn(t, **kw)


def tapegrad_op(name, params):
    return lambda t: getattr(t, name)(*params)


def cases():
    for name in UNARY:
        for params in PARAMETERS.get(name, [()]):
            yield pytest.param(name, params, id="%s%s" % (name, params or ""))


def points(name, rng):
    if name in POSITIVE:
        return rng.uniform(0.05, 3.0, 40)
    x = rng.standard_normal(40) * 3
    # The branch points of relu, abs, leaky_relu, elu, sign and softplus.
    return np.concatenate([x, [0.0, 0.75, -0.75, 20.0, 20.5, 19.5]])


def run(x, dtype, name, params, lib):
    if lib == "torch":
        t = torch.tensor(x, dtype=dtype, requires_grad=True)
        y = torch_op(name, params)(t)
        if y.requires_grad:
            y.backward(torch.ones_like(y))
        grad = t.grad.numpy() if t.grad is not None else np.zeros_like(x)
        return y.detach().numpy(), grad
    t = Tensor(x.astype(dtype), requires_grad=True)
    y = tapegrad_op(name, params)(t)
    if y.requires_grad:
        y.sum().backward()
    grad = t.grad.numpy() if t.grad is not None else np.zeros_like(x)
    return y.numpy(), grad


@pytest.mark.parametrize("name,params", list(cases()))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_torch(name, params, dtype):
    x = points(name, np.random.default_rng(len(name)))
    tol = 1e-12 if dtype == "float64" else 2e-6
    y, g = run(x, getattr(np, dtype), name, params, "tapegrad")
    ty, tg = run(x, getattr(torch, dtype), name, params, "torch")
    np.testing.assert_allclose(y, ty, rtol=tol, atol=tol)
    np.testing.assert_allclose(g, tg, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,params", list(cases()))
def test_special_values_match_torch(name, params):
    x = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, -1e-300])
    y, g = run(x, np.float64, name, params, "tapegrad")
    ty, tg = run(x, torch.float64, name, params, "torch")
    # NaN where torch has NaN; elu(-1e-300) is -1e-300 here and 0 in torch 1.13.
    if name == "sign":  # NaN stays NaN, as NumPy's sign; torch gives 0 (README: Numerics)
        ty = np.where(np.isnan(x), np.nan, ty)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=2e-300)
    finite = np.isfinite(x)
    np.testing.assert_allclose(g[finite], tg[finite], rtol=1e-12, atol=0)


def test_every_op_is_compared():
    # The parameterised ops above are ops of the library, and the library has at
    # least the ops this suite was written with.
    assert set(PARAMETERS) <= set(UNARY)
    assert {"softplus", "silu", "leaky_relu", "elu", "log1p", "expm1", "sin", "cos",
            "square", "rsqrt", "sign", "erf"} <= set(UNARY)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
