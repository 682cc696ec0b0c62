/* tapegrad._engine.TensorBase: the C half of tapegrad.Tensor.
 *
 * It holds the tensor's handle and the segment (tapegrad/_graph.py) whose tape
 * recorded it, frees the handle when the object goes, and implements the
 * arithmetic operators (+ - * / @ and unary -), each one C call into the C ABI: the
 * ops a training loop runs most, from Python, at the cost of a Python call rather
 * than of ctypes. tapegrad.Tensor (tensor.py) derives from it and adds the rest.
 *
 * A result joins its first operand's segment that has one, else this thread's
 * current segment (SegmentOf), which _graph.Context keeps in the thread state's
 * dict (_set_segment), so finding it is one lookup; the first op of a thread makes
 * the thread's Context first, which also makes its tape current.
 *
 * Thread safety: every function requires the GIL.
 */
#include "python/ext/graph.h"  // capi/tapegrad.h: the whole C ABI

typedef struct {
  PyObject_HEAD tg_tensor* handle; /* owned; NULL once given up */
  PyObject* seg;                   /* the TensorSegment it was recorded in, or NULL */
  PyObject* weakrefs;
} TensorObject;

static struct {
  PyTypeObject* tensor; /* tapegrad.Tensor */
  PyObject* as_tensor;  /* _as_tensor(other, like): a Tensor of an array or number */
  PyObject* context;    /* _graph.context: this thread's Context, made on first use */
  PyObject* real;       /* numbers.Real */
  PyObject* key;        /* the thread state dict's key of the current segment */
} tcfg;

static PyTypeObject TensorBaseType;

static inline int IsTensor(PyObject* o) { return PyObject_TypeCheck(o, &TensorBaseType); }

/* This thread's current segment (borrowed), making the thread's Context first if
 * it has none. NULL with an exception on failure. */
static PyObject* CurrentSegment(void) {
  PyObject* dict = PyThreadState_GetDict();
  PyObject* seg = dict ? PyDict_GetItemWithError(dict, tcfg.key) : NULL;
  if (seg || PyErr_Occurred()) return seg;
  PyObject* ctx = PyObject_CallNoArgs(tcfg.context);
  if (ctx == NULL) return NULL;
  Py_DECREF(ctx);
  seg = dict ? PyDict_GetItemWithError(dict, tcfg.key) : NULL;
  if (seg == NULL && !PyErr_Occurred()) {
    PyErr_SetString(PyExc_SystemError, "tapegrad: the thread's Context has no segment");
  }
  return seg;
}

/* The segment (borrowed) that an op's result from `x` and `y` (y may be NULL)
 * joins: the first operand's that has one, as the op records on that operand's
 * tape; else this thread's current one, whose tape an op of heap operands records
 * on (made first if the thread has none). NULL with an exception on failure. */
static PyObject* SegmentOf(PyObject* x, PyObject* y) {
  PyObject* seg = ((TensorObject*)x)->seg;
  if (seg == NULL && y) seg = ((TensorObject*)y)->seg;
  return seg ? seg : CurrentSegment();
}

/* The Tensor for a handle an op just made, in segment `seg`. */
static PyObject* Result(tg_status status, tg_tensor* out, PyObject* seg) {
  if (status) return RaiseStatusNull(status);
  TensorObject* t = (TensorObject*)tcfg.tensor->tp_alloc(tcfg.tensor, 0);
  if (t == NULL) {
    tg_tensor_destroy(out);
    return NULL;
  }
  t->handle = out;
  t->seg = Py_NewRef(seg);
  return (PyObject*)t;
}

/* 1 and *out for a real number, 0 for anything else, -1 with an exception. */
static int AsNumber(PyObject* o, double* out) {
  int real = PyFloat_Check(o) || PyLong_Check(o);
  if (!real && !IsTensor(o)) real = PyObject_IsInstance(o, tcfg.real);
  if (real <= 0) return real;
  *out = PyFloat_AsDouble(o);
  return *out == -1.0 && PyErr_Occurred() ? -1 : 1;
}

/* The Tensor an array-like operand becomes (new reference), beside `like`. */
static PyObject* AsTensor(PyObject* o, PyObject* like) {
  if (IsTensor(o)) return Py_NewRef(o);
  return PyObject_CallFunctionObjArgs(tcfg.as_tensor, o, like, NULL);
}

static PyObject* Affine(PyObject* x, double factor, double offset) {
  PyObject* seg = SegmentOf(x, NULL);
  if (seg == NULL) return NULL;
  tg_tensor* out = NULL;
  tg_status s = tg_tensor_affine(((TensorObject*)x)->handle, factor, offset, &out);
  return Result(s, out, seg);
}

static PyObject* Binary(tg_binary_op op, PyObject* a, PyObject* b) {
  PyObject* x = AsTensor(a, IsTensor(a) ? a : b);
  PyObject* y = x ? AsTensor(b, IsTensor(b) ? b : a) : NULL;
  PyObject* seg = y ? SegmentOf(x, y) : NULL;
  PyObject* r = NULL;
  if (seg) {
    tg_tensor* out = NULL;
    tg_status s = tg_tensor_binary(op, ((TensorObject*)x)->handle,
                                   ((TensorObject*)y)->handle, &out);
    r = Result(s, out, seg);
  }
  Py_XDECREF(x);
  Py_XDECREF(y);
  return r;
}

/* a + b, a - b, a * b, a / b: a number operand becomes the factor or offset of
 * one affine op (x * factor + offset), as its derivative is a constant; anything
 * else is a Tensor operand (arrays, lists and numbers become one beside the
 * other). Either side may be the Tensor (Python's reflected operators). */
static PyObject* Arithmetic(tg_binary_op op, PyObject* a, PyObject* b) {
  double number;
  const int left = IsTensor(a);
  const int real = AsNumber(left ? b : a, &number);
  if (real < 0) return NULL;
  if (!real) return Binary(op, a, b);
  PyObject* x = left ? a : b;
  switch (op) {
    case TG_ADD:
      return Affine(x, 1.0, number);
    case TG_SUB:
      return left ? Affine(x, 1.0, -number) : Affine(x, -1.0, number);
    case TG_MUL:
      return Affine(x, number, 0.0);
    case TG_DIV:
      if (left) {
        if (number == 0.0) {
          PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
          return NULL;
        }
        return Affine(x, 1.0 / number, 0.0);
      } else {  // number / x = x ** -1 * number
        PyObject* seg = SegmentOf(x, NULL);
        if (seg == NULL) return NULL;
        tg_tensor* inverse = NULL;
        tg_status s = tg_tensor_pow(((TensorObject*)x)->handle, -1.0, &inverse);
        PyObject* r = Result(s, inverse, seg);
        PyObject* scaled = r ? Affine(r, number, 0.0) : NULL;
        Py_XDECREF(r);
        return scaled;
      }
    default:
      return Binary(op, a, b);
  }
}

static PyObject* TensorAdd(PyObject* a, PyObject* b) { return Arithmetic(TG_ADD, a, b); }
static PyObject* TensorSub(PyObject* a, PyObject* b) { return Arithmetic(TG_SUB, a, b); }
static PyObject* TensorMul(PyObject* a, PyObject* b) { return Arithmetic(TG_MUL, a, b); }
static PyObject* TensorDiv(PyObject* a, PyObject* b) { return Arithmetic(TG_DIV, a, b); }
static PyObject* TensorMatMul(PyObject* a, PyObject* b) {
  return Binary(TG_MATMUL, a, b);
}

static PyObject* TensorNeg(PyObject* x) {
  PyObject* seg = SegmentOf(x, NULL);
  if (seg == NULL) return NULL;
  tg_tensor* out = NULL;
  tg_status s = tg_tensor_unary(TG_NEG, ((TensorObject*)x)->handle, &out);
  return Result(s, out, seg);
}

static PyNumberMethods kTensorNumber = {
    .nb_add = TensorAdd,
    .nb_subtract = TensorSub,
    .nb_multiply = TensorMul,
    .nb_true_divide = TensorDiv,
    .nb_matrix_multiply = TensorMatMul,
    .nb_negative = TensorNeg,
};

/* _h: the handle as an int (what ctypes passes as a void*), None once freed. */
static PyObject* TensorGetHandle(PyObject* self, void* unused) {
  tg_tensor* h = ((TensorObject*)self)->handle;
  return h ? PyLong_FromVoidPtr(h) : Py_NewRef(Py_None);
}

static int TensorSetHandle(PyObject* self, PyObject* value, void* unused) {
  void* h = NULL;
  if (value != NULL && value != Py_None) {
    h = PyLong_AsVoidPtr(value);
    if (h == NULL && PyErr_Occurred()) return -1;
  }
  ((TensorObject*)self)->handle = h;  // the caller gave up or destroyed the old one
  return 0;
}

/* _seg: the tensor segment whose tape recorded it (None: a heap tensor). */
static PyObject* TensorGetSeg(PyObject* self, void* unused) {
  PyObject* seg = ((TensorObject*)self)->seg;
  return Py_NewRef(seg ? seg : Py_None);
}

static int TensorSetSeg(PyObject* self, PyObject* seg, void* unused) {
  if (seg == Py_None) seg = NULL;
  Py_XINCREF(seg);
  Py_XSETREF(((TensorObject*)self)->seg, seg);
  return 0;
}

static PyGetSetDef kTensorGetSet[] = {
    {"_h", TensorGetHandle, TensorSetHandle, "the C ABI's tg_tensor*, as an int", NULL},
    {"_seg", TensorGetSeg, TensorSetSeg, "the segment whose tape recorded it, or None",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static void TensorDealloc(TensorObject* t) {
  if (t->weakrefs) PyObject_ClearWeakRefs((PyObject*)t);
  if (t->handle) tg_tensor_destroy(t->handle);
  t->handle = NULL;
  Py_CLEAR(t->seg);
  Py_TYPE(t)->tp_free((PyObject*)t);
}

static PyTypeObject TensorBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tapegrad._engine.TensorBase",
    .tp_basicsize = sizeof(TensorObject),
    .tp_dealloc = (destructor)TensorDealloc,
    .tp_as_number = &kTensorNumber,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "the handle, segment and arithmetic of tapegrad.Tensor",
    .tp_weaklistoffset = offsetof(TensorObject, weakrefs),
    .tp_getset = kTensorGetSet,
    .tp_new = PyType_GenericNew,
};

int TensorTypeReady(PyObject* module) {
  tcfg.key = PyUnicode_InternFromString("tapegrad.tensor_segment");
  if (tcfg.key == NULL || PyType_Ready(&TensorBaseType) < 0) return -1;
  return PyModule_AddObjectRef(module, "TensorBase", (PyObject*)&TensorBaseType);
}

PyObject* TensorConfigure(PyObject* module, PyObject* args) {
  PyObject *tensor, *as_tensor, *context, *real;
  if (!PyArg_ParseTuple(args, "O!OOO:_configure_tensor", &PyType_Type, &tensor,
                        &as_tensor, &context, &real)) {
    return NULL;
  }
  if (!PyType_IsSubtype((PyTypeObject*)tensor, &TensorBaseType)) {
    PyErr_SetString(PyExc_TypeError, "_configure_tensor: not a TensorBase subclass");
    return NULL;
  }
  Py_XSETREF(tcfg.tensor, (PyTypeObject*)Py_NewRef(tensor));
  Py_XSETREF(tcfg.as_tensor, Py_NewRef(as_tensor));
  Py_XSETREF(tcfg.context, Py_NewRef(context));
  Py_XSETREF(tcfg.real, Py_NewRef(real));
  Py_RETURN_NONE;
}

PyObject* TensorSetCurrentSegment(PyObject* module, PyObject* seg) {
  PyObject* dict = PyThreadState_GetDict();
  if (dict == NULL) {
    PyErr_SetString(PyExc_RuntimeError, "_set_segment: no thread state dict");
    return NULL;
  }
  if (PyDict_SetItem(dict, tcfg.key, seg) < 0) return NULL;
  Py_RETURN_NONE;
}
