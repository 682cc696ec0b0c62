"""What tools/install.sh installs: one static archive of the C++ library and the
list of its headers.

Bazel 4.2 has no rule for a single static library of a target and its
dependencies, so `cc_static_archive` merges the archives that the target's
CcInfo links (this repository's own; the system libraries are linker flags, not
archives) with `ar`'s MRI script, preferring the position-independent ones so that
the archive links into PIE executables and shared libraries alike. Its second
output lists every header the target's compilation exposes, as paths in this
repository.
"""

def _archive_of(library):
    return library.pic_static_library or library.static_library

def _cc_static_archive_impl(ctx):
    archives = []
    headers = []
    for dep in ctx.attr.deps:
        info = dep[CcInfo]
        for linker_input in info.linking_context.linker_inputs.to_list():
            for library in linker_input.libraries:
                archive = _archive_of(library)
                if archive and archive not in archives:
                    archives.append(archive)
        for header in info.compilation_context.headers.to_list():
            if not header.is_source or header.owner.workspace_name != "":
                continue
            if header.short_path not in headers:
                headers.append(header.short_path)

    out = ctx.actions.declare_file(ctx.attr.archive_name)
    script = ctx.actions.declare_file(ctx.label.name + ".mri")
    lines = ["CREATE " + out.path] + ["ADDLIB " + a.path for a in archives] + ["SAVE", "END"]
    ctx.actions.write(script, "\n".join(lines) + "\n")
    ctx.actions.run_shell(
        inputs = archives + [script],
        outputs = [out],
        command = "ar -M < " + script.path,
        mnemonic = "MergeArchives",
        progress_message = "Merging %d archives into %s" % (len(archives), out.short_path),
    )
    manifest = ctx.actions.declare_file(ctx.label.name + ".headers")
    ctx.actions.write(manifest, "\n".join(sorted(headers)) + "\n")
    return [DefaultInfo(files = depset([out, manifest]))]

cc_static_archive = rule(
    implementation = _cc_static_archive_impl,
    doc = "One static archive of `deps` and their dependencies, and their headers' list.",
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "archive_name": attr.string(mandatory = True),
    },
)
