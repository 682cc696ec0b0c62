"""Build helpers for targets of the CUDA backend."""

def cuda_only():
    """target_compatible_with for targets that exist only with --config=cuda.

    In the default build such targets are incompatible and `bazel test //...`
    skips them instead of building them."""
    return select({
        "//kernels/cuda:enabled": [],
        "//conditions:default": ["@platforms//:incompatible"],
    })
