/* The tracer's hot path in C: the same recording as the pure-Python hook in tracer.py.
 *
 * Only the hook lives here: turning the recorded steps into CWM text is the formatter's
 * job (codewm/format/_cformat.c).
 *
 * A Python-level trace function costs one Python call per event plus the bookkeeping around
 * it, which dominates tracing short programs. This hook runs as a C trace function
 * (PyEval_SetTrace, as coverage.py's CTracer does), renders plain values (int, bool, float,
 * str, None, and small built-in containers of them) with Python's own repr, and hands every
 * other value to the Python renderer, so both hooks produce identical steps (a test holds it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

typedef struct {
    PyObject_HEAD
    PyObject *filename;      /* str: co_filename of the traced program */
    PyObject *steps;         /* list of step tuples */
    PyObject *render;        /* callable(value) -> str: the careful renderer */
    PyObject *on_limit;      /* callable() called when max_steps is reached; should raise */
    PyObject *on_flush;      /* callable() or None: called every flush_every steps */
    PyObject *opaque_types;  /* frozenset of built-in types whose repr is "<... at 0x...>" */
    Py_ssize_t max_steps;
    Py_ssize_t max_chars;
    Py_ssize_t flush_every;
    Py_ssize_t flushed;
    PyObject *open_frames;   /* list: the traced frames entered and not yet left, innermost last */
    long long mac_period;    /* the digest period whose stream this tracer feeds; -1: none */
} CTracer;

/* Recursion-limit units the hook may use on top of the program's limit while it runs (the
 * Python renderer, a user __repr__): the program's own frames meet RecursionError at exactly
 * the depth they would untraced, and the hook never does. */
#define HOOK_HEADROOM 100

/* The steps' MAC (docs/tracer.md, "Trust boundary"). The sandbox child hands a key over once
 * (`set_step_key`, which zeroes the caller's bytearray); from then on the first tracer made in
 * each digest period feeds every step it records into a keyed SHA-256 stream, and
 * `take_digest` ends the period: sha256(key + sha256(key + period + steps)). The worker, which
 * has the key, recomputes it over the steps it received (codewm.trace.protocol.steps_digest):
 * steps edited after they were recorded, or made up, do not match, and a tracer the program
 * makes to record decoy code feeds no period the worker will accept. */
static unsigned char step_key[32];
static int step_key_set = 0;
static PyObject *sha256_new;      /* _hashlib.openssl_sha256, bound at import */
static PyObject *mac_stream;      /* the current period's inner hash */
static long long mac_period = 0;
static int mac_period_claimed = 0;

typedef struct { char *data; Py_ssize_t size, room; } Buffer;

static int buffer_put(Buffer *b, const void *data, Py_ssize_t n) {
    if (b->size + n > b->room) {
        Py_ssize_t room = (b->size + n) * 2 + 64;
        char *grown = PyMem_Realloc(b->data, room);
        if (grown == NULL) { PyErr_NoMemory(); return -1; }
        b->data = grown; b->room = room;
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
    return 0;
}

static int put_u32(Buffer *b, Py_ssize_t n) {
    unsigned char bytes[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    return buffer_put(b, bytes, 4);
}

/* One field of a step, as protocol.steps_digest encodes it. */
static int put_field(Buffer *b, PyObject *v) {
    if (v == Py_None) return buffer_put(b, "n", 1);
    if (PyUnicode_Check(v)) {
        PyObject *encoded = PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass");
        if (encoded == NULL) return -1;
        int rc = buffer_put(b, "s", 1) < 0 || put_u32(b, PyBytes_GET_SIZE(encoded)) < 0 ||
                 buffer_put(b, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded)) < 0 ? -1 : 0;
        Py_DECREF(encoded);
        return rc;
    }
    if (PyLong_Check(v)) {
        long long n = PyLong_AsLongLong(v);
        if (n == -1 && PyErr_Occurred()) return -1;
        unsigned char bytes[9] = {'i'};
        for (int i = 0; i < 8; i++) bytes[1 + i] = (unsigned char)((unsigned long long)n >> (56 - 8 * i));
        return buffer_put(b, bytes, 9);
    }
    if (PyDict_Check(v)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        if (buffer_put(b, "d", 1) < 0 || put_u32(b, PyDict_GET_SIZE(v)) < 0) return -1;
        while (PyDict_Next(v, &pos, &key, &value))
            if (put_field(b, key) < 0 || put_field(b, value) < 0) return -1;
        return 0;
    }
    PyErr_SetString(PyExc_TypeError, "a step holds only str, int, None and dicts of str");
    return -1;
}

static int mac_step(CTracer *self, PyObject *step) {
    if (self->mac_period != mac_period || mac_stream == NULL) return 0; /* not the period's tracer */
    Buffer b = {NULL, 0, 0};
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(step); i++)
        if (put_field(&b, PyTuple_GET_ITEM(step, i)) < 0) { PyMem_Free(b.data); return -1; }
    PyObject *r = PyObject_CallMethod(mac_stream, "update", "y#", b.data, b.size);
    PyMem_Free(b.data);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *new_period_stream(void) {
    unsigned char head[40];
    memcpy(head, step_key, 32);
    for (int i = 0; i < 8; i++) head[32 + i] = (unsigned char)((unsigned long long)mac_period >> (56 - 8 * i));
    PyObject *data = PyBytes_FromStringAndSize((const char *)head, 40);
    if (data == NULL) return NULL;
    PyObject *stream = PyObject_CallOneArg(sha256_new, data);
    Py_DECREF(data);
    return stream;
}

static PyObject *set_step_key(PyObject *module, PyObject *key) {
    Py_buffer view;
    if (step_key_set) { PyErr_SetString(PyExc_RuntimeError, "the step key is set already"); return NULL; }
    if (sha256_new == NULL) { PyErr_SetString(PyExc_RuntimeError, "_hashlib has no sha256"); return NULL; }
    if (!PyByteArray_Check(key)) { PyErr_SetString(PyExc_TypeError, "the step key must be a bytearray"); return NULL; }
    if (PyObject_GetBuffer(key, &view, PyBUF_WRITABLE) < 0) return NULL;
    if (view.len != 32) { PyBuffer_Release(&view); PyErr_SetString(PyExc_ValueError, "the step key must be 32 bytes"); return NULL; }
    memcpy(step_key, view.buf, 32);
    memset(view.buf, 0, 32);
    PyBuffer_Release(&view);
    step_key_set = 1;
    mac_period = 0;
    mac_period_claimed = 0;
    Py_XSETREF(mac_stream, new_period_stream());
    if (mac_stream == NULL) return NULL;
    Py_RETURN_NONE;
}

/* take_digest() -> hex str of the period that ends now (None without a key). */
static PyObject *take_digest(PyObject *module, PyObject *unused) {
    if (!step_key_set || mac_stream == NULL) Py_RETURN_NONE;
    PyObject *inner = PyObject_CallMethod(mac_stream, "digest", NULL);
    if (inner == NULL) return NULL;
    unsigned char head[32 + 32];
    if (!PyBytes_Check(inner) || PyBytes_GET_SIZE(inner) != 32) { Py_DECREF(inner); PyErr_SetString(PyExc_ValueError, "bad digest"); return NULL; }
    memcpy(head, step_key, 32);
    memcpy(head + 32, PyBytes_AS_STRING(inner), 32);
    Py_DECREF(inner);
    PyObject *data = PyBytes_FromStringAndSize((const char *)head, 64);
    if (data == NULL) return NULL;
    PyObject *outer = PyObject_CallOneArg(sha256_new, data);
    Py_DECREF(data);
    if (outer == NULL) return NULL;
    PyObject *hex = PyObject_CallMethod(outer, "hexdigest", NULL);
    Py_DECREF(outer);
    mac_period++;
    mac_period_claimed = 0;
    Py_XSETREF(mac_stream, new_period_stream());
    return hex;
}

static PyObject *s_call, *s_line, *s_return, *s_exception, *s_module, *s_at_0x;

static int is_plain(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    return t == &PyLong_Type || t == &PyBool_Type || t == &PyFloat_Type || t == &PyUnicode_Type || v == Py_None;
}

/* Plain values, and built-in lists, tuples and dicts (nested up to 3 deep) of them, whose
 * elements number at most *budget in all: their repr is exact, bounded and runs no user code. */
static int is_plain_tree(PyObject *v, Py_ssize_t *budget, int depth) {
    PyTypeObject *t = Py_TYPE(v);
    Py_ssize_t i, n;
    if (is_plain(v)) return 1;
    if (depth >= 3) return 0;
    if (t == &PyList_Type) {
        n = PyList_GET_SIZE(v);
        if ((*budget -= n) < 0) return 0;
        for (i = 0; i < n; i++) if (!is_plain_tree(PyList_GET_ITEM(v, i), budget, depth + 1)) return 0;
        return 1;
    }
    if (t == &PyTuple_Type) {
        n = PyTuple_GET_SIZE(v);
        if ((*budget -= n) < 0) return 0;
        for (i = 0; i < n; i++) if (!is_plain_tree(PyTuple_GET_ITEM(v, i), budget, depth + 1)) return 0;
        return 1;
    }
    if (t == &PyDict_Type) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        if ((*budget -= PyDict_GET_SIZE(v)) < 0) return 0;
        while (PyDict_Next(v, &pos, &key, &value))
            if (!is_plain(key) || !is_plain_tree(value, budget, depth + 1)) return 0;
        return 1;
    }
    return 0;
}

static int is_hex_digit(Py_UCS4 c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* repr() with every " at 0x<hex digits>" removed (iterators and other opaque built-ins): the
 * same text as render.tidy, which the Python hook uses. */
static PyObject *repr_without_address(PyObject *v) {
    PyObject *text = PyObject_Repr(v);
    if (text == NULL) return NULL;
    Py_ssize_t marker = PyUnicode_GET_LENGTH(s_at_0x);
    Py_ssize_t from = 0;
    for (;;) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        Py_ssize_t at = PyUnicode_Find(text, s_at_0x, from, n, 1);
        if (at < 0) return text; /* -2 (error) cannot happen for str arguments */
        Py_ssize_t end = at + marker;
        while (end < n && is_hex_digit(PyUnicode_READ_CHAR(text, end))) end++;
        if (end == at + marker) { from = at + 1; continue; } /* " at 0x" with no digits stays */
        PyObject *head = PyUnicode_Substring(text, 0, at);
        PyObject *tail = PyUnicode_Substring(text, end, n);
        Py_DECREF(text);
        if (head == NULL || tail == NULL) { Py_XDECREF(head); Py_XDECREF(tail); return NULL; }
        text = PyUnicode_Concat(head, tail);
        Py_DECREF(head); Py_DECREF(tail);
        if (text == NULL) return NULL;
        from = at;
    }
}

/* Render one value: Python's repr where that is exact and safe, else the Python renderer. */
static PyObject *render_value(CTracer *self, PyObject *v) {
    Py_ssize_t budget = self->max_chars / 2;
    int opaque = 0;
    if (is_plain_tree(v, &budget, 0) || (opaque = PySet_Contains(self->opaque_types, (PyObject *)Py_TYPE(v)) == 1)) {
        PyObject *text = opaque ? repr_without_address(v) : PyObject_Repr(v);
        if (text == NULL) {
            PyErr_Clear(); /* e.g. an int too large to print: the renderer knows what to do */
        } else if (PyUnicode_GET_LENGTH(text) <= self->max_chars) {
            return text;
        } else {
            Py_DECREF(text);
        }
    }
    return PyObject_CallOneArg(self->render, v);
}

static PyObject *snapshot(CTracer *self, PyFrameObject *frame, int module_level) {
    PyObject *mapping = PyFrame_GetLocals(frame);
    if (mapping == NULL) return NULL;
    PyObject *out = PyDict_New();
    if (out == NULL) { Py_DECREF(mapping); return NULL; }
    if (PyDict_Check(mapping)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(mapping, &pos, &key, &value)) {
            if (module_level && PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) >= 2 &&
                PyUnicode_READ_CHAR(key, 0) == '_' && PyUnicode_READ_CHAR(key, 1) == '_')
                continue;
            Py_INCREF(value);
            PyObject *text = render_value(self, value);
            Py_DECREF(value);
            if (text == NULL || PyDict_SetItem(out, key, text) < 0) {
                Py_XDECREF(text); Py_DECREF(out); Py_DECREF(mapping); return NULL;
            }
            Py_DECREF(text);
        }
    } else { /* Python 3.13+: a FrameLocalsProxy */
        PyObject *items = PyMapping_Items(mapping);
        if (items == NULL) { Py_DECREF(out); Py_DECREF(mapping); return NULL; }
        Py_ssize_t n = PyList_GET_SIZE(items);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *pair = PyList_GET_ITEM(items, i);
            PyObject *key = PyTuple_GET_ITEM(pair, 0), *value = PyTuple_GET_ITEM(pair, 1);
            if (module_level && PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) >= 2 &&
                PyUnicode_READ_CHAR(key, 0) == '_' && PyUnicode_READ_CHAR(key, 1) == '_')
                continue;
            PyObject *text = render_value(self, value);
            if (text == NULL || PyDict_SetItem(out, key, text) < 0) {
                Py_XDECREF(text); Py_DECREF(items); Py_DECREF(out); Py_DECREF(mapping); return NULL;
            }
            Py_DECREF(text);
        }
        Py_DECREF(items);
    }
    Py_DECREF(mapping);
    return out;
}

static int append_step(CTracer *self, PyObject *event, int lineno, Py_ssize_t depth, PyObject *locals,
                       PyObject *value, PyObject *name) {
    PyObject *step = PyTuple_New(6);
    if (step == NULL) return -1;
    PyObject *line_obj = PyLong_FromLong(lineno), *depth_obj = PyLong_FromSsize_t(depth);
    if (line_obj == NULL || depth_obj == NULL) { Py_XDECREF(line_obj); Py_XDECREF(depth_obj); Py_DECREF(step); return -1; }
    if (locals == NULL) locals = Py_None;
    if (value == NULL) value = Py_None;
    Py_INCREF(event); Py_INCREF(locals); Py_INCREF(value); Py_INCREF(name);
    PyTuple_SET_ITEM(step, 0, event);
    PyTuple_SET_ITEM(step, 1, line_obj);
    PyTuple_SET_ITEM(step, 2, depth_obj);
    PyTuple_SET_ITEM(step, 3, locals);
    PyTuple_SET_ITEM(step, 4, value);
    PyTuple_SET_ITEM(step, 5, name);
    /* A step holds only strings, ints, None and a dict of strings: it can never be part of a
     * reference cycle. Untracking it at once (CPython would do so at the next collection)
     * keeps long traces from making the garbage collector walk every step again and again. */
    if (!PyObject_GC_IsTracked(locals)) PyObject_GC_UnTrack(step);
    if (mac_step(self, step) < 0) { Py_DECREF(step); return -1; }
    int err = PyList_Append(self->steps, step);
    Py_DECREF(step);
    return err;
}

/* Whether `frame` is the innermost traced frame; if it is open further out (a frame left
 * without the events Python normally sends), the frames inside it are dropped first. A frame
 * the hook never saw enter (its call event failed) is not: its events are not recorded, so
 * depths never go below 0. */
static int is_innermost(CTracer *self, PyFrameObject *frame) {
    Py_ssize_t n = PyList_GET_SIZE(self->open_frames);
    if (n > 0 && PyList_GET_ITEM(self->open_frames, n - 1) == (PyObject *)frame) return 1;
    for (Py_ssize_t i = n - 2; i >= 0; i--) {
        if (PyList_GET_ITEM(self->open_frames, i) == (PyObject *)frame)
            return PyList_SetSlice(self->open_frames, i + 1, n, NULL) == 0;
    }
    return 0;
}

static int record_event(CTracer *self, PyFrameObject *frame, int what, PyObject *arg, PyObject *name);

static int trace_fn(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
    CTracer *self = (CTracer *)obj;
    if (what != PyTrace_CALL && what != PyTrace_LINE && what != PyTrace_RETURN && what != PyTrace_EXCEPTION)
        return 0;
    PyCodeObject *code = PyFrame_GetCode(frame);
    int ours = code->co_filename == self->filename ||
               PyUnicode_Compare(code->co_filename, self->filename) == 0;
    if (!ours) {
        Py_DECREF(code);
        if (what == PyTrace_CALL) {
            /* Not the program's code: no line events for this frame. */
            if (PyObject_SetAttrString((PyObject *)frame, "f_trace_lines", Py_False) < 0) PyErr_Clear();
        }
        return 0;
    }
    PyObject *name = code->co_name;
    Py_INCREF(name);
    Py_DECREF(code);
    /* The hook's own Python calls (the renderer) must not count against the program's
     * recursion limit: it is raised while the hook runs and put back before the program goes on. */
    int limit = Py_GetRecursionLimit();
    Py_SetRecursionLimit(limit + HOOK_HEADROOM);
    int rc = record_event(self, frame, what, arg, name);
    Py_SetRecursionLimit(limit);
    Py_DECREF(name);
    return rc;
}

static int record_event(CTracer *self, PyFrameObject *frame, int what, PyObject *arg, PyObject *name) {
    int rc = 0;
    if (PyList_GET_SIZE(self->steps) >= self->max_steps) {
        PyEval_SetTrace(NULL, NULL);
        PyObject *r = PyObject_CallNoArgs(self->on_limit);
        Py_XDECREF(r);
        return -1; /* on_limit raised StepLimitReached into the program */
    }
    if (what != PyTrace_CALL && !is_innermost(self, frame)) return PyErr_Occurred() ? -1 : 0;
    Py_ssize_t depth = PyList_GET_SIZE(self->open_frames); /* frames around this one's call */
    int lineno = PyFrame_GetLineNumber(frame);
    int module_level = name == s_module ||
                       (PyUnicode_GET_LENGTH(name) == 8 && PyUnicode_Compare(name, s_module) == 0);
    if (what == PyTrace_LINE || what == PyTrace_CALL) {
        PyObject *locals = snapshot(self, frame, module_level);
        if (locals == NULL) return -1;
        if (what == PyTrace_LINE) {
            rc = append_step(self, s_line, lineno, depth - 1, locals, NULL, name);
        } else {
            /* A module starts at line 0; its call frame shows the context's first line. */
            rc = append_step(self, s_call, lineno ? lineno : 1, depth, locals, NULL, name);
            if (rc == 0) rc = PyList_Append(self->open_frames, (PyObject *)frame);
        }
        Py_DECREF(locals);
    } else if (what == PyTrace_RETURN) {
        PyObject *value = render_value(self, arg ? arg : Py_None);
        if (value == NULL) return -1;
        rc = PyList_SetSlice(self->open_frames, depth - 1, depth, NULL);
        if (rc == 0) rc = append_step(self, s_return, lineno, depth - 1, NULL, value, name);
        Py_DECREF(value);
    } else {
        PyObject *exc = (arg && PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) >= 2) ? PyTuple_GET_ITEM(arg, 1) : Py_None;
        PyObject *value = PyObject_CallOneArg(self->render, exc);
        if (value == NULL) return -1;
        rc = append_step(self, s_exception, lineno, depth - 1, NULL, value, name);
        Py_DECREF(value);
    }
    if (rc == 0 && self->flush_every > 0 && PyList_GET_SIZE(self->steps) - self->flushed >= self->flush_every) {
        PyObject *r = PyObject_CallNoArgs(self->on_flush);
        if (r == NULL) rc = -1;
        Py_XDECREF(r);
        self->flushed = PyList_GET_SIZE(self->steps);
    }
    return rc;
}

static int CTracer_init(CTracer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"filename", "steps", "render", "on_limit", "on_flush", "max_steps", "max_chars", "flush_every", "opaque_types", NULL};
    PyObject *filename, *steps, *render, *on_limit, *on_flush, *opaque;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO!OOOnnnO!", kwlist, &filename, &PyList_Type, &steps, &render,
                                     &on_limit, &on_flush, &self->max_steps, &self->max_chars, &self->flush_every,
                                     &PyFrozenSet_Type, &opaque))
        return -1;
    Py_INCREF(opaque); Py_XSETREF(self->opaque_types, opaque);
    Py_INCREF(filename); Py_XSETREF(self->filename, filename);
    Py_INCREF(steps); Py_XSETREF(self->steps, steps);
    Py_INCREF(render); Py_XSETREF(self->render, render);
    Py_INCREF(on_limit); Py_XSETREF(self->on_limit, on_limit);
    Py_INCREF(on_flush); Py_XSETREF(self->on_flush, on_flush);
    Py_XSETREF(self->open_frames, PyList_New(0));
    if (self->open_frames == NULL) return -1;
    self->flushed = 0;
    /* The first tracer of a digest period feeds its stream; any later one (a program's own
     * Recorder, recording decoy code) feeds none. */
    self->mac_period = -1;
    if (step_key_set && !mac_period_claimed) {
        mac_period_claimed = 1;
        self->mac_period = mac_period;
    }
    return 0;
}

static void CTracer_dealloc(CTracer *self) {
    Py_XDECREF(self->filename); Py_XDECREF(self->steps); Py_XDECREF(self->render);
    Py_XDECREF(self->on_limit); Py_XDECREF(self->on_flush); Py_XDECREF(self->opaque_types);
    Py_XDECREF(self->open_frames);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *CTracer_start(CTracer *self, PyObject *unused) {
    PyEval_SetTrace(trace_fn, (PyObject *)self);
    Py_RETURN_NONE;
}

static PyObject *CTracer_stop(CTracer *self, PyObject *unused) {
    PyEval_SetTrace(NULL, NULL);
    Py_RETURN_NONE;
}

static PyObject *CTracer_mark_flushed(CTracer *self, PyObject *count) {
    Py_ssize_t n = PyLong_AsSsize_t(count);
    if (n == -1 && PyErr_Occurred()) return NULL;
    self->flushed = n;
    Py_RETURN_NONE;
}

static PyMethodDef CTracer_methods[] = {
    {"start", (PyCFunction)CTracer_start, METH_NOARGS, "Install as this thread's trace function."},
    {"stop", (PyCFunction)CTracer_stop, METH_NOARGS, "Remove this thread's trace function."},
    {"mark_flushed", (PyCFunction)CTracer_mark_flushed, METH_O, "Set how many steps were flushed."},
    {NULL}
};

static PyTypeObject CTracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "codewm.trace._ctracer.CTracer",
    .tp_basicsize = sizeof(CTracer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CTracer_init,
    .tp_dealloc = (destructor)CTracer_dealloc,
    .tp_methods = CTracer_methods,
    .tp_doc = "The C trace hook behind codewm.trace.tracer.Recorder.",
};


static PyMethodDef module_methods[] = {
    {"set_step_key", set_step_key, METH_O, "Key the steps' MAC (once per process; zeroes the bytearray given)."},
    {"take_digest", take_digest, METH_NOARGS, "End the current digest period; its MAC as hex (None without a key)."},
    {NULL}
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_ctracer", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__ctracer(void) {
    if (PyType_Ready(&CTracerType) < 0) return NULL;
    s_call = PyUnicode_InternFromString("call");
    s_line = PyUnicode_InternFromString("line");
    s_return = PyUnicode_InternFromString("return");
    s_exception = PyUnicode_InternFromString("exception");
    s_module = PyUnicode_InternFromString("<module>");
    s_at_0x = PyUnicode_InternFromString(" at 0x");
    PyObject *hashlib = PyImport_ImportModule("_hashlib");
    if (hashlib != NULL) {
        sha256_new = PyObject_GetAttrString(hashlib, "openssl_sha256");
        Py_DECREF(hashlib);
    }
    PyErr_Clear();
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&CTracerType);
    if (PyModule_AddObject(m, "CTracer", (PyObject *)&CTracerType) < 0) return NULL;
    return m;
}
