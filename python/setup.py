"""Packages tapegrad into a wheel: the Python package, its extension module
tapegrad._engine, libtapegrad.so and libtapegrad_dist.so (tapegrad.dist's library,
which links Open MPI and is loaded only under mpirun), all already built by Bazel.

Run by tools/wheel.sh, which builds them and stages this file beside a copy of the
package; it is not a build script of its own (`python3 setup.py build` here would
find no binaries). The wheel is a platform wheel for the Python and the Debian
release it was built with: libtapegrad.so links Debian's abseil, oneDNN and
OpenBLAS shared libraries, which the README's Python section lists.
"""

import os

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    """Tags the wheel with this Python's ABI and platform: it holds native code."""

    def has_ext_modules(self):
        return True


setup(
    name="tapegrad",
    version=os.environ["TAPEGRAD_VERSION"],
    description="Reverse-mode autograd on a linear tape: micrograd's API, native speed",
    packages=["tapegrad"],
    package_data={"tapegrad": ["_engine.so", "libtapegrad.so", "libtapegrad_dist.so"]},
    python_requires=">=3.9",
    install_requires=["numpy"],
    distclass=BinaryDistribution,
    zip_safe=False,
)
