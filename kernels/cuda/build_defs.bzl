"""Build helpers for targets of the CUDA backend."""

def cuda_only():
    """target_compatible_with for targets that exist only with --config=cuda.

    In the default build such targets are incompatible and `bazel test //...`
    skips them instead of building them."""
    return select({
        "//kernels/cuda:enabled": [],
        "//kernels/cuda:simulated": [],
        "//conditions:default": ["@platforms//:incompatible"],
    })

# The backend's sources with --config=cuda (or cudasim): its launchers and the
# kernel modules they write. //kernels/cuda:cuda builds them for the library;
# //kernels/cuda:module_texts builds them into the tool that writes the modules'
# text for the simulator.
CUDA_BACKEND_SRCS = [
    "batch_norm.cc",
    "compiler.cc",
    "elementwise.cc",
    "elementwise_math_source.cc",
    "index.cc",
    "matmul.cc",
    "memory.cc",
    "optimizer.cc",
    "random.cc",
    "reduce.cc",
    "runtime.cc",
    "softmax.cc",
    "sources.cc",
    "status.cc",
    "status.h",
    "window.cc",
]
