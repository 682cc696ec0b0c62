/* The process's scalar graph (see graph.h). */
#include "python/ext/graph.h"

#include <string.h>

/* Note [Atomic entry points]: the graph below is shared by every thread, and the
 * GIL is its lock. A CPython thread switch can only happen while Python code runs
 * (bytecode, a finalizer, a weakref callback), so each entry point first allocates
 * the Python objects it will need (an allocation may run the cyclic GC, and with it
 * finalizers), then changes the graph and its Values with C calls and reference
 * increments only, and releases references (which may run deallocators) only
 * after the graph is consistent again. The library is called with the GIL held and
 * never releases it: a scalar op is tens of nanoseconds, less than a release and
 * re-acquire. */

/* Note [Collection]: a collection costs one pass over the Values on the tape and
 * one over the records above the innermost step scope (copying the kept ones).
 * It runs when as many records have been made since the last one as it kept then
 * (at least kCollectMin), so its cost per record made is O(1), and the tape holds
 * at most twice the live Values plus kCollectMin records; and before a backward()
 * when the records made since the last one outnumber the live Values 4 to 1 (so a
 * backward() sweeps a few times its live graph at most). Memory follows the
 * Values whether or not backward() ever runs, as in micrograd: a forward-only
 * loop, a kept scalar or a thread that ended holds nothing of the graphs that are
 * gone. kCollectMin records are ~3 MB of tape. */
enum { kCollectMin = 1 << 16 };

typedef struct {
  tg_mark* mark;
  unsigned long thread;
} Scope;

static struct {
  tg_tape* tape;
  tg_mark* base;          /* the tape's start: collections above it */
  ValueObject* values;    /* every Value in state kOnTape */
  Py_ssize_t live;        /* their number */
  uint64_t since_collect; /* records made since the last collection */
  uint64_t collect_at;    /* ... and how many trigger the next one */
  Scope* scopes;          /* open step scopes, innermost last */
  Py_ssize_t n_scopes, cap_scopes;
  int step_foreign; /* another thread recorded inside the open scopes */
  uint8_t* keep;    /* collection buffers, kept for the next one */
  uint64_t* moved;
  size_t buffer_size;
  int collect_paused; /* GraphPauseCollection's count */
} g;

tg_tape* GraphTape(void) {
  if (g.tape) return g.tape;
  tg_tape* tape;
  tg_status status = tg_tape_create(0, &tape);
  if (!status) status = tg_tape_mark(tape, &g.base);
  if (status) return (tg_tape*)(RaiseStatus(status), NULL);
  g.tape = tape;
  g.collect_at = kCollectMin;
  return tape;
}

void GraphLink(ValueObject* v, tg_value handle) {
  v->handle = handle;
  v->state = kOnTape;
  v->tape_prev = NULL;
  v->tape_next = g.values;
  if (g.values) g.values->tape_prev = v;
  g.values = v;
  g.live++;
}

void GraphUnlink(ValueObject* v) {
  if (v->state != kOnTape) return;
  if (v->tape_prev) {
    v->tape_prev->tape_next = v->tape_next;
  } else {
    g.values = v->tape_next;
  }
  if (v->tape_next) v->tape_next->tape_prev = v->tape_prev;
  v->tape_prev = v->tape_next = NULL;
  v->state = kLazy;
  g.live--;
}

int ValueMaterialize(ValueObject* v) {
  tg_value handle;
  tg_status status = tg_value_leaf(g.tape, v->data, &handle);
  if (!status && v->grad != 0.0) status = tg_value_set_grad(g.tape, handle, v->grad);
  if (status) return RaiseStatus(status);
  GraphLink(v, handle);
  return 0;
}

static uint32_t Slot(tg_value handle) { return (uint32_t)handle; }

static tg_mark* InnermostMark(void) {
  return g.n_scopes ? g.scopes[g.n_scopes - 1].mark : g.base;
}

static int Reserve(size_t count) {
  if (count <= g.buffer_size) return 0;
  size_t size = count + count / 2;
  uint8_t* keep = PyMem_Realloc(g.keep, size);
  if (keep) g.keep = keep;
  uint64_t* moved = PyMem_Realloc(g.moved, size * sizeof(uint64_t));
  if (moved) g.moved = moved;
  if (keep == NULL || moved == NULL) {
    PyErr_NoMemory();
    return -1;
  }
  g.buffer_size = size;
  return 0;
}

void GraphPauseCollection(int pause) { g.collect_paused += pause ? 1 : -1; }

int GraphCollect(void) {
  if (GraphTape() == NULL) return -1;
  if (g.collect_paused) return 0;
  tg_mark* from = InnermostMark();
  tg_value first;
  tg_tape_stats stats;
  tg_status status = tg_mark_first_value(from, &first);
  if (!status) status = tg_tape_stats_get(g.tape, &stats);
  if (status) return RaiseStatus(status);
  const size_t count = (size_t)(stats.values - Slot(first));
  if (Reserve(count) < 0) return -1;
  memset(g.keep, 0, count);
  size_t kept = 0;
  for (ValueObject* v = g.values; v; v = v->tape_next) {
    if (Slot(v->handle) >= Slot(first)) {
      kept += !g.keep[Slot(v->handle) - Slot(first)];
      g.keep[Slot(v->handle) - Slot(first)] = 1;
    }
  }
  g.since_collect = 0;
  g.collect_at = kCollectMin > (uint64_t)g.live ? kCollectMin : (uint64_t)g.live;
  if (kept == count) return 0;  // nothing to drop
  status = tg_tape_retain(g.tape, from, g.keep, count, g.moved);
  if (status) return RaiseStatus(status);
  for (ValueObject* v = g.values; v; v = v->tape_next) {
    if (Slot(v->handle) >= Slot(first))
      v->handle = g.moved[Slot(v->handle) - Slot(first)];
  }
  return 0;
}

int GraphBeforeRecord(void) {
  if (g.tape == NULL && GraphTape() == NULL) return -1;
  if (g.n_scopes && g.scopes[g.n_scopes - 1].thread != PyThread_get_thread_ident()) {
    g.step_foreign = 1;
  }
  if (++g.since_collect >= g.collect_at) return GraphCollect();
  return 0;
}

int GraphBeforeBackward(void) {
  // The sweep walks the whole tape below its root, garbage included. Collecting
  // once the records made since the last collection outnumber the live Values
  // kBackwardSlack times keeps each backward() within a few times the live graph
  // (a per-sample loop with a small model stays fast), while a loop whose graph is
  // rebuilt every step collects only every few steps.
  enum { kBackwardSlack = 4 };
  if (g.since_collect > kBackwardSlack * (uint64_t)g.live) return GraphCollect();
  return 0;
}

/* ---- step scopes */

PyObject* GraphStepBegin(void) {
  if (GraphTape() == NULL) return NULL;
  if (g.n_scopes == g.cap_scopes) {
    Py_ssize_t cap = g.cap_scopes ? 2 * g.cap_scopes : 8;
    Scope* scopes = PyMem_Realloc(g.scopes, (size_t)cap * sizeof(Scope));
    if (scopes == NULL) return PyErr_NoMemory();
    g.scopes = scopes;
    g.cap_scopes = cap;
  }
  const unsigned long me = PyThread_get_thread_ident();
  if (g.n_scopes == 0) {
    g.step_foreign = 0;
  } else if (g.scopes[g.n_scopes - 1].thread != me) {
    g.step_foreign = 1;
  }
  PyObject* token = PyLong_FromSsize_t(g.n_scopes);
  if (token == NULL) return NULL;
  tg_mark* mark;
  tg_status status = tg_tape_mark(g.tape, &mark);
  if (status) {
    Py_DECREF(token);
    return RaiseStatusNull(status);
  }
  g.scopes[g.n_scopes++] = (Scope){mark, me};
  return token;
}

int GraphStepEnd(PyObject* token) {
  Py_ssize_t depth = PyLong_AsSsize_t(token);
  if (depth == -1 && PyErr_Occurred()) return -1;
  if (depth != g.n_scopes - 1) {
    PyErr_SetString(PyExc_RuntimeError,
                    "tapegrad.step: scopes must end once each, in the reverse order they "
                    "began");
    return -1;
  }
  Scope scope = g.scopes[--g.n_scopes];
  const int foreign = g.step_foreign;
  if (g.n_scopes == 0) g.step_foreign = 0;
  int result = 0;
  if (!foreign) {
    // Another thread's Values would be among those made in the scope: then the
    // scope's graph goes as any other, when its Values go (no rewind).
    tg_value first;
    tg_status status = tg_mark_first_value(scope.mark, &first);
    // Leaves keep their numbers and turn lazy; the rest made in the scope is stale.
    for (ValueObject* v = g.values; v && !status;) {
      ValueObject* next = v->tape_next;
      if (Slot(v->handle) >= Slot(first)) {
        if (v->a == NULL) {  // a leaf
          status = tg_value_data(g.tape, v->handle, &v->data);
          if (!status) status = tg_value_grad(g.tape, v->handle, &v->grad);
          if (!status) GraphUnlink(v);
        } else {
          GraphUnlink(v);
          v->state = kStale;
        }
      }
      v = next;
    }
    if (!status) status = tg_tape_rewind(g.tape, scope.mark);
    if (status) result = RaiseStatus(status);
  }
  tg_mark_destroy(scope.mark);
  return result;
}

/* ---- statistics */

PyObject* GraphStats(void) {
  if (GraphTape() == NULL) return NULL;
  tg_tape_stats stats;
  tg_status status = tg_tape_stats_get(g.tape, &stats);
  if (status) return RaiseStatusNull(status);
  return Py_BuildValue(
      "{sKsKsKsKsKsKsn}", "values", (unsigned long long)stats.values, "slot_bytes",
      (unsigned long long)stats.slot_bytes, "arena_bytes_used",
      (unsigned long long)stats.arena_bytes_used, "arena_bytes_reserved",
      (unsigned long long)stats.arena_bytes_reserved, "arena_chunks",
      (unsigned long long)stats.arena_chunks, "arena_high_water_bytes",
      (unsigned long long)stats.arena_high_water_bytes, "live_values", g.live);
}
