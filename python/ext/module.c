/* tapegrad._engine: the extension module behind tapegrad.engine.
 *
 * Value (value.c, graph.c) and the C half of Tensor (tensor.c). It calls only the C
 * ABI (capi/tapegrad.h, capi/tapegrad_tensor.h). Its tg_* symbols are resolved at
 * load time against the libtapegrad.so that tapegrad/_lib.py has already loaded
 * with RTLD_GLOBAL, so the process holds one copy of the library, found by one
 * search, however the package was installed.
 *
 * Thread safety: every function requires the GIL (Note [Atomic entry points] in
 * graph.c).
 */
#include "python/ext/graph.h"

static PyObject* from_status; /* tapegrad.errors.from_status, imported on first use */

int RaiseStatus(tg_status status) {
  const char* message = tg_last_error_message();
  if (from_status == NULL) {
    PyObject* errors = PyImport_ImportModule("tapegrad.errors");
    if (errors == NULL) return -1;
    from_status = PyObject_GetAttrString(errors, "from_status");
    Py_DECREF(errors);
    if (from_status == NULL) return -1;
  }
  PyObject* error = PyObject_CallFunction(from_status, "is", (int)status,
                                          message ? message : "(no message)");
  if (error == NULL) return -1;
  PyErr_SetObject((PyObject*)Py_TYPE(error), error);
  Py_DECREF(error);
  return -1;
}

PyObject* RaiseStatusNull(tg_status status) {
  RaiseStatus(status);
  return NULL;
}

static PyObject* StepBegin(PyObject* module, PyObject* unused) {
  return GraphStepBegin();
}

static PyObject* StepEnd(PyObject* module, PyObject* token) {
  if (GraphStepEnd(token) < 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject* TapeStats(PyObject* module, PyObject* unused) { return GraphStats(); }

static PyObject* Collect(PyObject* module, PyObject* unused) {
  if (GraphCollect() < 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject* WriteDot(PyObject* module, PyObject* args) {
  PyObject* root;
  const char* path;
  if (!PyArg_ParseTuple(args, "O!s:write_dot", &ValueType, &root, &path)) return NULL;
  tg_value handle;
  if (GraphBeforeRecord() < 0 || ValueOnTape((ValueObject*)root, &handle) < 0)
    return NULL;
  tg_status status = tg_tape_write_dot(GraphTape(), handle, path);
  if (status) return RaiseStatusNull(status);
  Py_RETURN_NONE;
}

static PyMethodDef kFunctions[] = {
    {"_configure", (PyCFunction)(void (*)(void))ValueConfigure,
     METH_VARARGS | METH_KEYWORDS,
     "Hands the module what it needs from Python (see value.c)."},
    {"_rebuild", ValueRebuild, METH_VARARGS, "A Value from what __reduce__ saved."},
    {"_configure_tensor", TensorConfigure, METH_VARARGS,
     "Hands TensorBase tapegrad.Tensor and its helpers (see tensor.c)."},
    {"_set_segment", TensorSetCurrentSegment, METH_O,
     "Makes `seg` this thread's current tensor segment."},
    {"_step_begin", StepBegin, METH_NOARGS, "Begins a step scope; returns its token."},
    {"_step_end", StepEnd, METH_O, "Ends the step scope of `token`."},
    {"tape_stats", TapeStats, METH_NOARGS,
     "The scalar tape: values, slot bytes, arena figures, and the Values that Python "
     "holds on it (a dict)."},
    {"collect", Collect, METH_NOARGS,
     "Drops every Value on the tape that no Python object holds (it also happens on "
     "its own as the tape grows)."},
    {"write_dot", WriteDot, METH_VARARGS,
     "write_dot(root, path): the tape's records below `root` as a Graphviz file."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kModule = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tapegrad._engine",
    .m_doc = "micrograd's Value on tapegrad's tape (see tapegrad.engine).",
    .m_size = -1,
    .m_methods = kFunctions,
};

PyMODINIT_FUNC PyInit__engine(void) {
  PyObject* module = PyModule_Create(&kModule);
  if (module && (ValueTypeReady(module) < 0 || TensorTypeReady(module) < 0)) {
    Py_CLEAR(module);
  }
  return module;
}
