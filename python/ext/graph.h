/* The process's scalar graph: the one tape every tapegrad.engine.Value records on.
 *
 * micrograd's Values are plain Python objects that any thread may use while it
 * holds the GIL. tapegrad's are the same: one tape for the whole process, and every
 * entry point of this extension changes it inside one C call that never releases
 * the GIL, so two threads never see it half-changed (Note [Atomic entry points]).
 *
 * Memory follows the Values: every Value on the tape is in one list, and now and
 * then the tape keeps the slots of the listed Values and drops the rest
 * (tg_tape_retain), re-addressing the kept ones. A Value holds its inputs, so what
 * a kept record reads is kept too. Leaves made from numbers take no slot until an
 * op reads them (a "lazy" leaf keeps its data and grad in the object).
 *
 * Thread safety: every function here requires the GIL.
 */
#ifndef TAPEGRAD_PYTHON_EXT_GRAPH_H_
#define TAPEGRAD_PYTHON_EXT_GRAPH_H_

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "capi/tapegrad.h"

/* A Value: an op result (always on the tape) or a leaf (on the tape once used). */
typedef struct ValueObject {
  PyObject_HEAD tg_value handle; /* its slot on the tape, unless state is kLazy */
  uint8_t state;                 /* ValueState */
  uint8_t kind;                  /* ValueKind */
  double data, grad;             /* a lazy leaf's numbers */
  PyObject* a;                   /* an op's inputs (micrograd's _prev), or NULL */
  PyObject* b;
  PyObject* children; /* a tuple given to Value(data, children, op), or NULL */
  PyObject* op;       /* pow's exponent, or the op given to the constructor */
  PyObject* backward; /* a _backward the user assigned, or NULL */
  PyObject* prev;     /* the cached _prev set */
  PyObject* dict;
  PyObject* weakrefs;
  struct ValueObject* tape_prev; /* the graph's list of Values on the tape */
  struct ValueObject* tape_next;
} ValueObject;

enum ValueState {
  kLazy,   /* a leaf that no op has read since it was made (or since a step) */
  kOnTape, /* in the graph's list: its slot is kept by every collection */
  kStale,  /* made inside a step scope that has ended: every use is an error */
};

enum ValueKind { kLeaf, kAdd, kMul, kPow, kRelu, kTanh, kExp, kLog, kSigmoid, kUserOp };

extern PyTypeObject ValueType;

/* value.c: readies ValueType and adds it to `module` (whose _rebuild it keeps for
 * __reduce__); the module-level helpers _configure and _rebuild. */
int ValueTypeReady(PyObject* module);
PyObject* ValueConfigure(PyObject* self, PyObject* args, PyObject* kwargs);
PyObject* ValueRebuild(PyObject* self, PyObject* args);

/* tensor.c: readies TensorBase and adds it to `module`; _configure_tensor(Tensor,
 * as_tensor, context, real) and _set_segment(seg), which tapegrad.tensor and
 * tapegrad._graph call. */
int TensorTypeReady(PyObject* module);
PyObject* TensorConfigure(PyObject* module, PyObject* args);
PyObject* TensorSetCurrentSegment(PyObject* module, PyObject* seg);

/* The tape, made on first use. NULL with an exception set if it cannot be made. */
tg_tape* GraphTape(void);
/* Called before an op records: counts it, collects dead Values now and then
 * (Note [Collection]), and notes ops of other threads inside a step scope. -1 with
 * an exception on failure. */
int GraphBeforeRecord(void);
/* Called before a backward() sweep: collects when the tape may be mostly garbage
 * (Note [Collection]). -1 with an exception on failure. */
int GraphBeforeBackward(void);
/* Makes `v` an on-tape Value at `handle` (just recorded). */
void GraphLink(ValueObject* v, tg_value handle);
/* Takes `v` out of the graph's list (it is being freed or made anew). */
void GraphUnlink(ValueObject* v);
/* Puts a lazy leaf on the tape. -1 on failure. */
int ValueMaterialize(ValueObject* v);
/* The tape handle of `v` in *out, putting a lazy leaf on the tape first (inline:
 * every op calls it for each operand). -1 on failure. */
static inline int ValueOnTape(ValueObject* v, tg_value* out) {
  if (v->state == kLazy && ValueMaterialize(v) < 0) return -1;
  *out = v->handle;
  return 0;
}

/* step(): begin returns a token (an int); end takes it back. */
PyObject* GraphStepBegin(void);
int GraphStepEnd(PyObject* token);
/* Drops every Value on the tape that no Python object holds, unless paused. -1 on
 * failure. */
int GraphCollect(void);
/* While paused (pause = 1 adds a pause, 0 ends one), no collection moves a Value,
 * so tape handles read before stay valid. */
void GraphPauseCollection(int pause);
/* The tape's statistics and the number of Values on it, as a dict. */
PyObject* GraphStats(void);

/* Raises the Python exception for a failed C ABI call; returns -1 (or NULL). */
int RaiseStatus(tg_status status);
PyObject* RaiseStatusNull(tg_status status);

#endif /* TAPEGRAD_PYTHON_EXT_GRAPH_H_ */
