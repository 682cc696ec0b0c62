"""Tensor's elementwise math and activations, as torch's functions of the same
names (the formulas: core/internal/elementwise_math.h). A base of Tensor, which provides
_unary(name, *parameters)."""


class ElementwiseMath:
    __slots__ = ()

    def neg(self):
        return self._unary("neg")

    def exp(self):
        return self._unary("exp")

    def expm1(self):
        """exp(x) - 1, accurate near 0."""
        return self._unary("expm1")

    def log(self):
        return self._unary("log")

    def log1p(self):
        """log(1 + x), accurate near 0."""
        return self._unary("log1p")

    def sqrt(self):
        return self._unary("sqrt")

    def rsqrt(self):
        """1 / sqrt(x)."""
        return self._unary("rsqrt")

    def square(self):
        return self._unary("square")

    def abs(self):
        return self._unary("abs")

    def sign(self):
        """-1, 0 or 1 (NaN for NaN); a constant: no gradient flows through it."""
        return self._unary("sign")

    def sin(self):
        return self._unary("sin")

    def cos(self):
        return self._unary("cos")

    def tanh(self):
        return self._unary("tanh")

    def erf(self):
        return self._unary("erf")

    def relu(self):
        return self._unary("relu")

    def sigmoid(self):
        return self._unary("sigmoid")

    def gelu(self):
        """The exact (erf) form."""
        return self._unary("gelu")

    def silu(self):
        """x * sigmoid(x)."""
        return self._unary("silu")

    def softplus(self, beta=1.0, threshold=20.0):
        """log(1 + exp(beta x)) / beta; x itself where beta x > threshold."""
        return self._unary("softplus", beta, threshold)

    def leaky_relu(self, negative_slope=0.01):
        """x where x > 0, else negative_slope * x."""
        return self._unary("leaky_relu", negative_slope)

    def elu(self, alpha=1.0):
        """x where x > 0, else alpha * (exp(x) - 1)."""
        return self._unary("elu", alpha)
