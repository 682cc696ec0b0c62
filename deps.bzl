"""tapegrad_deps(): the repositories a build of @tapegrad//:tapegrad needs, for
another Bazel workspace (WORKSPACE mode, Debian's Bazel 4.2, offline):

    local_repository(name = "tapegrad", path = "/path/to/tapegrad")
    load("@tapegrad//:deps.bzl", "tapegrad_deps")
    tapegrad_deps()

then depend on @tapegrad//:tapegrad (C++, "tapegrad.h"), @tapegrad//nn and its
siblings, or @tapegrad//capi:libtapegrad.so. tapegrad's own WORKSPACE calls it too.
A repository that the workspace has declared already is left as it is. The system
libraries (abseil, oneDNN, OpenBLAS, zlib, Open MPI) come from Debian
(tools/setup.sh).
"""

def _tapegrad_directory_impl(repository_ctx):
    directory = repository_ctx.path(Label("//:BUILD.bazel")).dirname
    for part in repository_ctx.attr.directory.split("/"):
        directory = directory.get_child(part)
    for entry in directory.readdir():
        repository_ctx.symlink(entry, entry.basename)

# A directory of the tapegrad repository as a repository of its own, wherever
# tapegrad sits (local_repository's relative paths would be the consumer's).
_tapegrad_directory = repository_rule(
    implementation = _tapegrad_directory_impl,
    attrs = {"directory": attr.string(mandatory = True)},
    local = True,
)

def _declare(name, rule, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def tapegrad_deps():
    """Declares rules_cc, rules_java, platforms, remote_coverage_tools, cuda and
    openmpi."""

    # Bazel 4.2.3's C++ rules are native; this stand-in forwards rules_cc's names to
    # them (Debian's rules_cc is too new for 4.2.3).
    _declare("rules_cc", _tapegrad_directory, directory = "third_party/rules_cc")
    _declare("rules_java", native.local_repository, path = "/usr/share/bazel/rules/java")
    _declare("platforms", native.local_repository, path = "/usr/share/bazel/tools/platforms")

    # `bazel test` analyses coverage tooling even when coverage is off.
    _declare(
        "remote_coverage_tools",
        _tapegrad_directory,
        directory = "third_party/remote_coverage_tools",
    )

    # The CUDA Toolkit, for --config=cuda only (third_party/cuda.BUILD). Repositories
    # are resolved lazily, so the default build needs no /usr/local/cuda.
    _declare(
        "cuda",
        native.new_local_repository,
        build_file = str(Label("//third_party:cuda.BUILD")),
        path = "/usr/local/cuda",
    )

    # Open MPI's headers and library (libopenmpi-dev), for //dist.
    _declare(
        "openmpi",
        native.new_local_repository,
        build_file = str(Label("//third_party:openmpi.BUILD")),
        path = "/usr/lib/x86_64-linux-gnu/openmpi",
    )
