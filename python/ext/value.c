/* tapegrad.engine.Value: micrograd's Value as an extension type over the C ABI.
 *
 * Every operator is one entry point (Note [Atomic entry points] in graph.c) that
 * records micrograd's composition on the tape: a - b is a + (b * -1), a / b is
 * a * b**-1, a number becomes a leaf. So a seeded run gives micrograd's numbers to
 * the last bit, and _op and _prev are micrograd's.
 *
 * Values are not tracked by the cyclic garbage collector until they can be part of
 * a cycle: an op result refers only to older Values, so reference counting frees
 * every graph built from operators. A Value that gets attributes (a __dict__) or
 * children from the constructor is tracked from then on. A cycle that passes
 * through an untracked Value (x.attr = y where y is computed from x) is not
 * collected.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "python/ext/graph.h"

static struct {
  PyObject* real;         /* numbers.Real */
  PyObject* cpu;          /* Device.cpu() */
  PyObject* require;      /* require(device, what): raises if unavailable */
  PyObject* require_cuda; /* require_cuda(index) */
  PyObject* rebuild;      /* the module's _rebuild, for __reduce__ */
  PyObject* minus_one;    /* the exponent of micrograd's a / b */
  PyObject* names[kUserOp];
} cfg;

static inline int IsValue(PyObject* o) { return PyObject_TypeCheck(o, &ValueType); }

/* A new untracked Value of `type`: a lazy leaf of 0. */
static ValueObject* Alloc(PyTypeObject* type) {
  ValueObject* v;
  if (type == &ValueType) {
    v = PyObject_GC_New(ValueObject, &ValueType);
  } else {
    v = (ValueObject*)type->tp_alloc(type, 0);
  }
  if (v == NULL) return NULL;
  v->handle = 0;
  v->state = kLazy;
  v->kind = kLeaf;
  v->data = v->grad = 0.0;
  v->a = v->b = v->children = v->op = v->backward = v->prev = v->dict = v->weakrefs =
      NULL;
  v->tape_prev = v->tape_next = NULL;
  return v;
}

/* 1 and *out for a real number (micrograd's operand), 0 for anything else,
 * -1 with an exception if converting a number failed. */
static int AsReal(PyObject* o, double* out) {
  if (PyFloat_Check(o)) {
    *out = PyFloat_AS_DOUBLE(o);
    return 1;
  }
  if (!PyLong_Check(o)) {
    int real = PyObject_IsInstance(o, cfg.real);
    if (real <= 0) return real;
  }
  *out = PyFloat_AsDouble(o);
  return *out == -1.0 && PyErr_Occurred() ? -1 : 1;
}

static ValueObject* LeafOf(double data) {
  ValueObject* v = Alloc(&ValueType);
  if (v) v->data = data;
  return v;
}

/* ---- recording */

/* Makes `out` the result at `handle` (just recorded). */
static PyObject* Finish(ValueObject* out, tg_value handle, int kind, ValueObject* x,
                        ValueObject* y, PyObject* op) {
  GraphLink(out, handle);
  out->kind = (uint8_t)kind;
  Py_INCREF(x);
  out->a = (PyObject*)x;
  Py_XINCREF(y);
  out->b = (PyObject*)y;
  Py_XINCREF(op);
  out->op = op;
  return (PyObject*)out;
}

typedef tg_status (*BinaryFn)(tg_tape*, tg_value, tg_value, tg_value*);
typedef tg_status (*UnaryFn)(tg_tape*, tg_value, tg_value*);

static PyObject* Record2(int kind, ValueObject* x, ValueObject* y) {
  ValueObject* out = Alloc(&ValueType);
  if (out == NULL) return NULL;
  tg_value hx, hy, h;
  if (GraphBeforeRecord() < 0 || ValueOnTape(x, &hx) < 0 || ValueOnTape(y, &hy) < 0)
    goto fail;
  const BinaryFn fn = kind == kAdd ? tg_value_add : tg_value_mul;
  tg_status status = fn(GraphTape(), hx, hy, &h);
  if (status) {
    RaiseStatus(status);
    goto fail;
  }
  return Finish(out, h, kind, x, y, NULL);
fail:
  Py_DECREF(out);
  return NULL;
}

/* x op number: the number becomes a leaf, as in micrograd. */
static PyObject* Record2Number(int kind, ValueObject* x, double number,
                               int number_first) {
  ValueObject* leaf = LeafOf(number);
  if (leaf == NULL) return NULL;
  PyObject* out = number_first ? Record2(kind, leaf, x) : Record2(kind, x, leaf);
  Py_DECREF(leaf);
  return out;
}

static int DataOf(ValueObject* v, double* out) {
  if (v->state == kLazy) {
    *out = v->data;
    return 0;
  }
  tg_status status = tg_value_data(GraphTape(), v->handle, out);
  return status ? RaiseStatus(status) : 0;
}

static PyObject* Record1(int kind, UnaryFn fn, ValueObject* x, double exponent,
                         PyObject* op) {
  ValueObject* out = Alloc(&ValueType);
  if (out == NULL) return NULL;
  tg_value hx, h;
  if (GraphBeforeRecord() < 0 || ValueOnTape(x, &hx) < 0) goto fail;
  tg_status status =
      fn ? fn(GraphTape(), hx, &h) : tg_value_pow(GraphTape(), hx, exponent, &h);
  if (status) {
    RaiseStatus(status);
    goto fail;
  }
  return Finish(out, h, kind, x, NULL, op);
fail:
  Py_DECREF(out);
  return NULL;
}

/* Python's float ** float errors (CPython's float_pow), which micrograd users see. */
static int CheckPow(double base, double exponent) {
  if (exponent == 0.0 || isnan(base) || isnan(exponent) || isinf(exponent)) return 0;
  if (base == 0.0 && exponent < 0.0) {
    PyErr_SetString(PyExc_ZeroDivisionError, "0.0 cannot be raised to a negative power");
    return -1;
  }
  if (base < 0.0 && exponent != floor(exponent)) {
    PyObject* e = PyFloat_FromDouble(exponent);
    if (e) {
      PyErr_Format(PyExc_ValueError,
                   "Value ** %R: a negative number to a fractional power is complex, "
                   "and Values are real",
                   e);
      Py_DECREF(e);
    }
    return -1;
  }
  if (isfinite(base) && isinf(pow(base, exponent))) {
    errno = ERANGE;
    PyErr_SetFromErrno(PyExc_OverflowError);
    return -1;
  }
  return 0;
}

static PyObject* Pow(ValueObject* x, PyObject* exponent) {
  double e, base;
  int real = AsReal(exponent, &e);
  if (real < 0) return NULL;
  if (real == 0 || IsValue(exponent)) {
    return PyErr_Format(PyExc_TypeError,
                        "only supporting int/float powers for now, not %s",
                        Py_TYPE(exponent)->tp_name);
  }
  if (DataOf(x, &base) < 0 || CheckPow(base, e) < 0) return NULL;
  return Record1(kPow, NULL, x, e, exponent);
}

static PyObject* Neg(ValueObject* x) { return Record2Number(kMul, x, -1.0, 0); }

/* ---- number protocol: micrograd's operators */

/* `self op other` for add and mul (other + self is self + other in micrograd). */
static PyObject* AddOrMul(int kind, PyObject* p, PyObject* q) {
  ValueObject* self = (ValueObject*)(IsValue(p) ? p : q);
  PyObject* other = IsValue(p) ? q : p;
  if (IsValue(other)) return Record2(kind, self, (ValueObject*)other);
  double number;
  int real = AsReal(other, &number);
  if (real <= 0) return real < 0 ? NULL : Py_NewRef(Py_NotImplemented);
  return Record2Number(kind, self, number, 0);
}

static PyObject* ValueAdd(PyObject* p, PyObject* q) { return AddOrMul(kAdd, p, q); }
static PyObject* ValueMul(PyObject* p, PyObject* q) { return AddOrMul(kMul, p, q); }

static PyObject* ValueSub(PyObject* p, PyObject* q) {
  double number = 0.0;
  if (!IsValue(p) || !IsValue(q)) {
    int real = AsReal(IsValue(p) ? q : p, &number);
    if (real <= 0) return real < 0 ? NULL : Py_NewRef(Py_NotImplemented);
  }
  if (!IsValue(p)) {  // number - self: micrograd's other + (-self)
    PyObject* neg = Neg((ValueObject*)q);
    if (neg == NULL) return NULL;
    PyObject* out = Record2Number(kAdd, (ValueObject*)neg, number, 0);
    Py_DECREF(neg);
    return out;
  }
  if (!IsValue(q)) return Record2Number(kAdd, (ValueObject*)p, -number, 0);
  PyObject* neg = Neg((ValueObject*)q);  // self + (-other)
  if (neg == NULL) return NULL;
  PyObject* out = Record2(kAdd, (ValueObject*)p, (ValueObject*)neg);
  Py_DECREF(neg);
  return out;
}

static PyObject* ValueTrueDiv(PyObject* p, PyObject* q) {
  if (IsValue(q)) {  // p * q**-1, or (q**-1) * p for a number p
    double number = 0.0;
    if (!IsValue(p)) {
      int real = AsReal(p, &number);
      if (real <= 0) return real < 0 ? NULL : Py_NewRef(Py_NotImplemented);
    }
    PyObject* inverse = Pow((ValueObject*)q, cfg.minus_one);
    if (inverse == NULL) return NULL;
    PyObject* out = IsValue(p) ? Record2(kMul, (ValueObject*)p, (ValueObject*)inverse)
                               : Record2Number(kMul, (ValueObject*)inverse, number, 0);
    Py_DECREF(inverse);
    return out;
  }
  double number;
  int real = AsReal(q, &number);
  if (real <= 0) return real < 0 ? NULL : Py_NewRef(Py_NotImplemented);
  // self * other**-1, with Python's own number ** -1 (its errors included)
  PyObject* inverse = PyNumber_Power(q, cfg.minus_one, Py_None);
  if (inverse == NULL) return NULL;
  real = AsReal(inverse, &number);
  Py_DECREF(inverse);
  if (real <= 0) return real < 0 ? NULL : Py_NewRef(Py_NotImplemented);
  return Record2Number(kMul, (ValueObject*)p, number, 0);
}

static PyObject* ValuePow(PyObject* p, PyObject* q, PyObject* modulo) {
  if (!IsValue(p)) Py_RETURN_NOTIMPLEMENTED;
  if (modulo != Py_None) {
    PyErr_SetString(PyExc_TypeError, "Value ** : no modulo");
    return NULL;
  }
  return Pow((ValueObject*)p, q);
}

static PyObject* ValueNeg(PyObject* p) { return Neg((ValueObject*)p); }

static PyNumberMethods kNumber = {
    .nb_add = ValueAdd,
    .nb_subtract = ValueSub,
    .nb_multiply = ValueMul,
    .nb_power = ValuePow,
    .nb_negative = ValueNeg,
    .nb_true_divide = ValueTrueDiv,
};

/* ---- methods */

static PyObject* Unary(PyObject* self, int kind, UnaryFn fn) {
  return Record1(kind, fn, (ValueObject*)self, 0.0, NULL);
}

static PyObject* ValueRelu(PyObject* self, PyObject* unused) {
  return Unary(self, kRelu, tg_value_relu);
}
static PyObject* ValueTanh(PyObject* self, PyObject* unused) {
  return Unary(self, kTanh, tg_value_tanh);
}
static PyObject* ValueLog(PyObject* self, PyObject* unused) {
  return Unary(self, kLog, tg_value_log);
}
static PyObject* ValueSigmoid(PyObject* self, PyObject* unused) {
  return Unary(self, kSigmoid, tg_value_sigmoid);
}
static PyObject* ValueExp(PyObject* self, PyObject* unused) {
  double x;
  if (DataOf((ValueObject*)self, &x) < 0) return NULL;
  if (isfinite(x) && isinf(exp(x))) {  // math.exp's error, as in micrograd's lecture
    PyErr_SetString(PyExc_OverflowError, "math range error");
    return NULL;
  }
  return Unary(self, kExp, tg_value_exp);
}

static int SetNumber(ValueObject* v, PyObject* value, int grad);
static PyObject* Children(ValueObject* v);

/* Note [User backward]: micrograd's way to write an op is
 *     out = Value(t, (self,), 'tanh')
 *     def _backward(): self.grad += (1 - t**2) * out.grad
 *     out._backward = _backward
 * and backward() calls each Value's _backward in reverse topological order. The
 * tape's sweep cannot call Python, so while any Value holds an assigned _backward
 * (user_backwards > 0), backward() first orders the root's graph as micrograd does
 * (through each Value's inputs and constructor children) and, if a Value in it has
 * one, runs micrograd's loop: every Value's _backward in turn, the assigned closure
 * or the built-in one, which adds its record's partials (taken when the op ran)
 * times its grad to its inputs' grads. Graphs without an assigned _backward keep
 * the sweep. The loop calls Python, so it is not one atomic entry point: another
 * thread may record between two closures (the handles it reads are current). */
static Py_ssize_t user_backwards;

static void SetBackward(ValueObject* v, PyObject* fn) {
  user_backwards += (fn != NULL) - (v->backward != NULL);
  Py_XINCREF(fn);
  Py_XSETREF(v->backward, fn);
}

/* An op's record: its inputs and their partials (Python's ops have at most 2). */
typedef struct {
  size_t count;
  tg_value inputs[4];
  double partials[4];
} Edges;

static int ReadEdges(tg_tape* tape, tg_value v, Edges* e) {
  size_t n;
  tg_status s = tg_value_inputs(tape, v, e->inputs, 4, &e->count);
  if (!s) s = tg_value_partials(tape, v, e->partials, 4, &n);
  if (s) return RaiseStatus(s);
  if (e->count > 4) {
    PyErr_Format(PyExc_SystemError, "Value._backward: a record of %zu inputs", e->count);
    return -1;
  }
  return 0;
}

/* grad(input) += partial * grad(v) over v's edges. */
static int AddPartials(tg_tape* tape, tg_value v, const Edges* e) {
  double g;
  tg_status s = tg_value_grad(tape, v, &g);
  if (s || g == 0.0) return s ? RaiseStatus(s) : 0;  // Note [Zero adjoints] (core)
  for (size_t k = 0; k < e->count; k++) {
    double x;
    s = tg_value_grad(tape, e->inputs[k], &x);
    if (!s) s = tg_value_set_grad(tape, e->inputs[k], x + e->partials[k] * g);
    if (s) return RaiseStatus(s);
  }
  return 0;
}

static inline int HasRecord(const ValueObject* v) { return v->a && v->state == kOnTape; }

/* The built-in _backward. */
static int Propagate(ValueObject* v) {
  if (!HasRecord(v)) return 0;  // a leaf: nothing to add
  Edges e;
  return ReadEdges(GraphTape(), v->handle, &e) < 0
             ? -1
             : AddPartials(GraphTape(), v->handle, &e);
}

static PyObject* ValuePropagate(PyObject* self, PyObject* unused) {
  return Propagate((ValueObject*)self) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef kPropagate = {
    "_backward", ValuePropagate, METH_NOARGS,
    "adds this Value's grad times its op's local derivatives to its inputs' grads"};

/* Appends to `order` the Values that `root` depends on, each after its inputs
 * (micrograd's build_topo, with an explicit stack for deep graphs); *user is set
 * if one has an assigned _backward. -1 with an exception on failure. */
typedef struct {
  ValueObject* v;     /* held by `seen` */
  PyObject* children; /* its inputs and constructor children (owned) */
  Py_ssize_t next;    /* the next of them to visit */
} Frame;

static int Order(ValueObject* root, PyObject* order, int* user) {
  PyObject* seen = PySet_New(NULL);
  Py_ssize_t depth = 0, capacity = 64;
  Frame* stack = PyMem_New(Frame, capacity);
  int ok = seen && stack;
  if (stack == NULL) PyErr_NoMemory();
  PyObject* next = (PyObject*)root;
  while (ok) {
    if (next) {  // visit it: mark, then its children
      if (depth == capacity) {
        Frame* grown = PyMem_Realloc(stack, 2 * capacity * sizeof(Frame));
        if (grown == NULL) {
          PyErr_NoMemory();
          ok = 0;
          break;
        }
        stack = grown;
        capacity *= 2;
      }
      Frame* f = &stack[depth];
      ok = PySet_Add(seen, next) == 0 &&
           (f->children = Children((ValueObject*)next)) != NULL;
      if (!ok) break;
      f->v = (ValueObject*)next;
      f->next = 0;
      depth++;
      next = NULL;
    }
    if (depth == 0) break;
    Frame* f = &stack[depth - 1];
    if (f->next < PyTuple_GET_SIZE(f->children)) {
      PyObject* c = PyTuple_GET_ITEM(f->children, f->next++);
      int had = IsValue(c) ? PySet_Contains(seen, c) : 1;
      ok = had >= 0;
      if (had == 0) next = c;
    } else {  // every input is in `order`: this Value goes after them
      *user |= f->v->backward != NULL;
      ok = PyList_Append(order, (PyObject*)f->v) == 0;
      Py_DECREF(f->children);
      depth--;
    }
  }
  while (depth > 0) Py_DECREF(stack[--depth].children);
  PyMem_Free(stack);
  Py_XDECREF(seen);
  return ok ? 0 : -1;
}

/* For RunBackwards: the Values of `order` that have a record, by slot, highest
 * first. */
typedef struct {
  uint32_t slot;
  Py_ssize_t k;
} Position;

static int HigherSlotFirst(const void* p, const void* q) {
  const uint32_t a = ((const Position*)p)->slot, b = ((const Position*)q)->slot;
  return (a < b) - (a > b);
}

/* micrograd's backward, for a graph with an assigned _backward (Note [User
 * backward]). The records' edges are read first, down the tape (each read then
 * starts where the last stopped), with collections paused so that the handles
 * read stay valid while closures run. */
static int RunBackwards(ValueObject* root, PyObject* order) {
  const Py_ssize_t n = PyList_GET_SIZE(order);
  tg_tape* tape = GraphTape();
  Edges* edges = PyMem_New(Edges, n);
  Position* by_slot = PyMem_New(Position, n);
  int ok = tape && edges && by_slot;
  if (tape && !ok) PyErr_NoMemory();
  Py_ssize_t m = 0;
  for (Py_ssize_t k = 0; ok && k < n; k++) {
    const ValueObject* v = (const ValueObject*)PyList_GET_ITEM(order, k);
    edges[k].count = 0;
    if (HasRecord(v) && !v->backward) by_slot[m++] = (Position){(uint32_t)v->handle, k};
  }
  if (ok) qsort(by_slot, (size_t)m, sizeof(Position), HigherSlotFirst);
  for (Py_ssize_t i = 0; ok && i < m; i++) {
    const ValueObject* v = (const ValueObject*)PyList_GET_ITEM(order, by_slot[i].k);
    ok = ReadEdges(tape, v->handle, &edges[by_slot[i].k]) == 0;
  }
  PyObject* one = ok ? PyFloat_FromDouble(1.0) : NULL;
  ok = one && SetNumber(root, one, 1) == 0;
  Py_XDECREF(one);
  GraphPauseCollection(1);
  for (Py_ssize_t k = n; ok && k-- > 0;) {
    ValueObject* v = (ValueObject*)PyList_GET_ITEM(order, k);
    if (v->backward) {
      PyObject* fn = Py_NewRef(v->backward);  // the closure may reassign it
      PyObject* r = PyObject_CallNoArgs(fn);
      Py_DECREF(fn);
      ok = r != NULL;
      Py_XDECREF(r);
    } else if (edges[k].count) {
      ok = AddPartials(tape, v->handle, &edges[k]) == 0;
    }
  }
  GraphPauseCollection(0);
  PyMem_Free(edges);
  PyMem_Free(by_slot);
  return ok ? 0 : -1;
}

static PyObject* ValueBackward(PyObject* self, PyObject* unused) {
  ValueObject* v = (ValueObject*)self;
  if (user_backwards > 0) {
    PyObject* order = PyList_New(0);
    int user = 0;
    int ok =
        order && Order(v, order, &user) == 0 && (!user || RunBackwards(v, order) == 0);
    Py_XDECREF(order);
    if (!ok) return NULL;
    if (user) Py_RETURN_NONE;
  }
  tg_value h;
  // On the tape before the collection, which then moves it with the rest.
  if (GraphBeforeRecord() < 0 || ValueOnTape(v, &h) < 0 || GraphBeforeBackward() < 0) {
    return NULL;
  }
  tg_status status = tg_value_backward(GraphTape(), v->handle);
  if (status) return RaiseStatusNull(status);
  Py_RETURN_NONE;
}

static PyObject* ValueReduce(PyObject* self, PyObject* unused);

static PyObject* ValueDevice(PyObject* self, void* unused) {
  return Py_NewRef(cfg.cpu ? cfg.cpu : Py_None);
}

static PyObject* ValueTo(PyObject* self, PyObject* device) {
  PyObject* ok = PyObject_CallFunction(cfg.require, "Os", device, "Value.to");
  if (ok == NULL) return NULL;
  Py_DECREF(ok);
  return Py_NewRef(self);
}

static PyObject* ValueCpu(PyObject* self, PyObject* unused) { return Py_NewRef(self); }

static PyObject* ValueCuda(PyObject* self, PyObject* args) {
  PyObject* index = NULL;
  if (!PyArg_ParseTuple(args, "|O:cuda", &index)) return NULL;
  PyObject* ok =
      PyObject_CallFunctionObjArgs(cfg.require_cuda, index ? index : Py_None, NULL);
  if (ok == NULL) return NULL;
  Py_DECREF(ok);
  return Py_NewRef(self);
}

static PyMethodDef kMethods[] = {
    {"relu", ValueRelu, METH_NOARGS, "max(0, x)"},
    {"tanh", ValueTanh, METH_NOARGS, NULL},
    {"exp", ValueExp, METH_NOARGS, NULL},
    {"log", ValueLog, METH_NOARGS, NULL},
    {"sigmoid", ValueSigmoid, METH_NOARGS, NULL},
    {"backward", ValueBackward, METH_NOARGS,
     "Sets this Value's grad to 1 and accumulates the grads of everything it "
     "depends on (micrograd's backward)."},
    {"to", ValueTo, METH_O, "This Value on `device` (only the CPU holds Values)."},
    {"cpu", ValueCpu, METH_NOARGS, NULL},
    {"cuda", ValueCuda, METH_VARARGS, NULL},
    {"__reduce__", ValueReduce, METH_NOARGS,
     "copy, deepcopy and pickle: an independent leaf with the same data, grad, _op, "
     "_prev and attributes."},
    {NULL, NULL, 0, NULL},
};

/* ---- attributes */

static PyObject* ValueGetData(PyObject* self, void* unused) {
  double x;
  return DataOf((ValueObject*)self, &x) < 0 ? NULL : PyFloat_FromDouble(x);
}

static PyObject* ValueGetGrad(PyObject* self, void* unused) {
  ValueObject* v = (ValueObject*)self;
  if (v->state == kLazy) return PyFloat_FromDouble(v->grad);
  double x;
  tg_status status = tg_value_grad(GraphTape(), v->handle, &x);
  return status ? RaiseStatusNull(status) : PyFloat_FromDouble(x);
}

static int SetNumber(ValueObject* v, PyObject* value, int grad) {
  if (value == NULL) {
    PyErr_Format(PyExc_AttributeError, "Value.%s cannot be deleted",
                 grad ? "grad" : "data");
    return -1;
  }
  double x = PyFloat_AsDouble(value);
  if (x == -1.0 && PyErr_Occurred()) return -1;
  if (v->state == kLazy) {
    *(grad ? &v->grad : &v->data) = x;
    return 0;
  }
  tg_tape* tape = GraphTape();
  tg_status status = grad ? tg_value_set_grad(tape, v->handle, x)
                          : tg_value_set_data(tape, v->handle, x);
  return status ? RaiseStatus(status) : 0;
}

static int ValueSetData(PyObject* self, PyObject* value, void* unused) {
  return SetNumber((ValueObject*)self, value, 0);
}
static int ValueSetGrad(PyObject* self, PyObject* value, void* unused) {
  return SetNumber((ValueObject*)self, value, 1);
}

static PyObject* ValueGetOp(PyObject* self, void* unused) {
  ValueObject* v = (ValueObject*)self;
  if (v->kind == kUserOp) return Py_NewRef(v->op);
  if (v->kind == kPow) return PyUnicode_FromFormat("**%S", v->op);
  return Py_NewRef(cfg.names[v->kind]);
}

static int ValueSetOp(PyObject* self, PyObject* value, void* unused) {
  ValueObject* v = (ValueObject*)self;
  if (value == NULL) {
    PyErr_SetString(PyExc_AttributeError, "Value._op cannot be deleted");
    return -1;
  }
  Py_INCREF(value);
  Py_XSETREF(v->op, value);
  v->kind = kUserOp;
  return 0;
}

static PyObject* Children(ValueObject* v) {
  if (v->children) return Py_NewRef(v->children);
  if (v->a == NULL) return PyTuple_New(0);
  return v->b ? PyTuple_Pack(2, v->a, v->b) : PyTuple_Pack(1, v->a);
}

static PyObject* ValueGetChildren(PyObject* self, void* unused) {
  return Children((ValueObject*)self);
}

/* micrograd's _prev: the set of inputs, the same object each time. */
static PyObject* ValueGetPrev(PyObject* self, void* unused) {
  ValueObject* v = (ValueObject*)self;
  if (v->prev == NULL) {
    PyObject* children = Children(v);
    if (children == NULL) return NULL;
    v->prev = PySet_New(children);
    Py_DECREF(children);
    if (v->prev == NULL) return NULL;
  }
  return Py_NewRef(v->prev);
}

/* A Value with attributes may be part of a cycle: the collector must see it. */
static void Track(PyObject* self) {
  if (!PyObject_GC_IsTracked(self)) PyObject_GC_Track(self);
}

static PyObject* ValueGetDict(PyObject* self, void* context) {
  PyObject* dict = PyObject_GenericGetDict(self, context);
  if (dict) Track(self);
  return dict;
}

static int ValueSetattro(PyObject* self, PyObject* name, PyObject* value) {
  int result = PyObject_GenericSetAttr(self, name, value);
  if (result == 0 && ((ValueObject*)self)->dict) Track(self);
  return result;
}

/* _backward: the assigned closure, else the built-in one (Note [User backward]). */
static PyObject* ValueGetBackward(PyObject* self, void* unused) {
  ValueObject* v = (ValueObject*)self;
  return v->backward ? Py_NewRef(v->backward) : PyCFunction_New(&kPropagate, self);
}

static int ValueSetBackward(PyObject* self, PyObject* fn, void* unused) {
  if (fn != NULL && !PyCallable_Check(fn)) {
    PyErr_Format(PyExc_TypeError, "Value._backward must be callable, not %s",
                 Py_TYPE(fn)->tp_name);
    return -1;
  }
  SetBackward((ValueObject*)self, fn);  // deleting it restores the built-in one
  if (fn) Track(self);                  // the closure usually refers to the Value
  return 0;
}

static PyGetSetDef kGetSet[] = {
    {"data", ValueGetData, ValueSetData, "the value (settable, as in micrograd)", NULL},
    {"grad", ValueGetGrad, ValueSetGrad, "d(root)/d(this) after backward()", NULL},
    {"_op", ValueGetOp, ValueSetOp, "the op that made this Value ('' for a leaf)", NULL},
    {"_prev", ValueGetPrev, NULL, "the Values this one was computed from (a set)", NULL},
    {"_children", ValueGetChildren, NULL, "the same, as a tuple in operand order", NULL},
    {"_backward", ValueGetBackward, ValueSetBackward,
     "adds to the inputs' grads; assign a closure for an op of your own, as in micrograd",
     NULL},
    {"device", ValueDevice, NULL, "where the Value lives: always the CPU", NULL},
    {"__dict__", ValueGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- lifetime */

static int ValueTraverse(ValueObject* v, visitproc visit, void* arg) {
  Py_VISIT(v->a);
  Py_VISIT(v->b);
  Py_VISIT(v->children);
  Py_VISIT(v->op);
  Py_VISIT(v->backward);
  Py_VISIT(v->prev);
  Py_VISIT(v->dict);
  return 0;
}

static int ValueClear(ValueObject* v) {
  Py_CLEAR(v->a);
  Py_CLEAR(v->b);
  Py_CLEAR(v->children);
  Py_CLEAR(v->op);
  SetBackward(v, NULL);
  Py_CLEAR(v->prev);
  Py_CLEAR(v->dict);
  return 0;
}

/* Takes v out of the graph (its record goes at the next collection). */
static void Detach(ValueObject* v) {
  GraphUnlink(v);
  v->state = kLazy;
}

static void ValueDealloc(ValueObject* v) {
  PyObject_GC_UnTrack(v);
  // A long chain of Values is freed iteratively, not by C recursion.
  Py_TRASHCAN_BEGIN(v, ValueDealloc);
  if (v->weakrefs) PyObject_ClearWeakRefs((PyObject*)v);
  Detach(v);
  ValueClear(v);
  Py_TYPE(v)->tp_free((PyObject*)v);
  Py_TRASHCAN_END;
}

static PyObject* ValueNew(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  return (PyObject*)Alloc(type);
}

/* Value(data, _children=(), _op='', device=None) */
static int ValueInit(PyObject* self, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"data", "_children", "_op", "device", NULL};
  PyObject *data, *children = NULL, *op = NULL, *device = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO:Value", kwlist, &data, &children,
                                   &op, &device)) {
    return -1;
  }
  double x;
  int real = AsReal(data, &x);
  if (real <= 0 || IsValue(data)) {
    if (real >= 0) {
      PyErr_Format(PyExc_TypeError, "Value(data): data must be a real number, not %s",
                   Py_TYPE(data)->tp_name);
    }
    return -1;
  }
  if (device != Py_None) {
    PyObject* ok = PyObject_CallFunction(cfg.require, "Os", device, "Value");
    if (ok == NULL) return -1;
    Py_DECREF(ok);
  }
  PyObject* kids = children ? PySequence_Tuple(children) : NULL;
  if (children && kids == NULL) return -1;
  ValueObject* v = (ValueObject*)self;
  Detach(v);
  ValueClear(v);
  v->kind = kLeaf;
  v->data = x;
  v->grad = 0.0;
  if (kids && PyTuple_GET_SIZE(kids)) {
    v->children = kids;  // micrograd's Value(data, children, op): a leaf with _prev
    Track(self);
  } else {
    Py_XDECREF(kids);
  }
  if (op && !(PyUnicode_Check(op) && PyUnicode_GET_LENGTH(op) == 0)) {
    v->op = Py_NewRef(op);
    v->kind = kUserOp;
  }
  return 0;
}

static PyObject* ValueRepr(PyObject* self) {
  PyObject* data = ValueGetData(self, NULL);
  PyObject* grad = data ? ValueGetGrad(self, NULL) : NULL;
  PyObject* repr =
      grad ? PyUnicode_FromFormat("Value(data=%R, grad=%R)", data, grad) : NULL;
  Py_XDECREF(data);
  Py_XDECREF(grad);
  return repr;
}

static PyObject* ValueReduce(PyObject* self, PyObject* unused) {
  ValueObject* v = (ValueObject*)self;
  PyObject* data = ValueGetData(self, NULL);
  PyObject* grad = data ? ValueGetGrad(self, NULL) : NULL;
  PyObject* op = grad ? ValueGetOp(self, NULL) : NULL;
  PyObject* children = op ? Children(v) : NULL;
  PyObject* reduced = NULL;
  if (children) {
    reduced = Py_BuildValue("O(OOOO)O", cfg.rebuild, data, grad, op, children,
                            v->dict ? v->dict : Py_None);
  }
  Py_XDECREF(data);
  Py_XDECREF(grad);
  Py_XDECREF(op);
  Py_XDECREF(children);
  return reduced;
}

/* _rebuild(data, grad, op, children): what __reduce__ makes a copy from. */
PyObject* ValueRebuild(PyObject* module, PyObject* args) {
  PyObject *data, *grad, *op, *children;
  if (!PyArg_ParseTuple(args, "OOOO:_rebuild", &data, &grad, &op, &children)) return NULL;
  PyObject* v =
      PyObject_CallFunctionObjArgs((PyObject*)&ValueType, data, children, op, NULL);
  if (v && SetNumber((ValueObject*)v, grad, 1) < 0) Py_CLEAR(v);
  return v;
}

PyTypeObject ValueType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tapegrad.engine.Value",
    .tp_basicsize = sizeof(ValueObject),
    .tp_dealloc = (destructor)ValueDealloc,
    .tp_repr = ValueRepr,
    .tp_as_number = &kNumber,
    .tp_setattro = ValueSetattro,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "stores a single scalar value and its gradient",
    .tp_traverse = (traverseproc)ValueTraverse,
    .tp_clear = (inquiry)ValueClear,
    .tp_weaklistoffset = offsetof(ValueObject, weakrefs),
    .tp_methods = kMethods,
    .tp_getset = kGetSet,
    .tp_dictoffset = offsetof(ValueObject, dict),
    .tp_init = ValueInit,
    .tp_new = ValueNew,
};

int ValueTypeReady(PyObject* module) {
  static const char* names[kUserOp] = {"",     "+",   "*",   "**",     "ReLU",
                                       "tanh", "exp", "log", "sigmoid"};
  for (int k = 0; k < kUserOp; k++) {
    cfg.names[k] = PyUnicode_InternFromString(names[k]);
    if (cfg.names[k] == NULL) return -1;
  }
  cfg.minus_one = PyLong_FromLong(-1);
  cfg.rebuild = PyObject_GetAttrString(module, "_rebuild");
  if (cfg.minus_one == NULL || cfg.rebuild == NULL || PyType_Ready(&ValueType) < 0) {
    return -1;
  }
  // NumPy's binary ops defer to ours, so np.float64(2) * v is a Value.
  if (PyDict_SetItemString(ValueType.tp_dict, "__array_ufunc__", Py_None) < 0) return -1;
  return PyModule_AddObjectRef(module, "Value", (PyObject*)&ValueType);
}

/* _configure(real, cpu, require, require_cuda): what the Python side provides
 * (numbers.Real, the CPU Device, device checks). */
PyObject* ValueConfigure(PyObject* module, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"real", "cpu", "require", "require_cuda", NULL};
  PyObject *real, *cpu, *require, *require_cuda;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:_configure", kwlist, &real, &cpu,
                                   &require, &require_cuda)) {
    return NULL;
  }
  Py_XSETREF(cfg.real, Py_NewRef(real));
  Py_XSETREF(cfg.cpu, Py_NewRef(cpu));
  Py_XSETREF(cfg.require, Py_NewRef(require));
  Py_XSETREF(cfg.require_cuda, Py_NewRef(require_cuda));
  Py_RETURN_NONE;
}
