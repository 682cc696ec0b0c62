"""The C headers of the python3 the tests run (Debian's python3-dev).

The include directory depends on the interpreter's version (python3.11 on Debian
12), so it is asked of the interpreter rather than written here: the extension
module is then always built against the Python that imports it.
"""

def _python_headers_impl(rctx):
    python = rctx.attr.interpreter
    result = rctx.execute([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"])
    if result.return_code != 0:
        fail("python_headers: %s could not name its include directory: %s" % (python, result.stderr))
    include = result.stdout.strip()
    if not rctx.path(include + "/Python.h").exists:
        fail("python_headers: %s/Python.h is missing; install python3-dev (tools/setup.sh)" % include)
    rctx.symlink(include, "include")
    rctx.file("BUILD.bazel", """\
cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    visibility = ["//visibility:public"],
)
""")

python_headers = repository_rule(
    implementation = _python_headers_impl,
    attrs = {"interpreter": attr.string(default = "/usr/bin/python3")},
    local = True,
)
