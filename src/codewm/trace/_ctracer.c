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
    Py_ssize_t n_kept;
    struct Kept *kept;   /* per slot of a snapshot, what slot_text may reuse */
} CTracer;

/* Recursion-limit units the hook may use on top of the program's limit while it runs (the
 * Python renderer, a user __repr__): the program's own frames meet RecursionError at exactly
 * the depth they would untraced, and the hook never does. */
#define HOOK_HEADROOM 100

#include "_ctracer_mac.h"

/* What a snapshot's slot (a local's place in locals order) held when it was rendered. */
struct Kept {
    PyObject *value, *text;
    PyObject *head;      /* for a list or tuple: a tuple of its first items, else NULL */
    Py_ssize_t size;     /* for a list or tuple: its length, or -1 for "longer than its head" */
};

static PyObject *s_call, *s_line, *s_return, *s_exception, *s_module, *s_at_0x, *s_empty_text, *s_ellipsis;

static int is_plain(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    return t == &PyLong_Type || t == &PyBool_Type || t == &PyFloat_Type || t == &PyUnicode_Type || v == Py_None;
}

/* Plain values, and built-in lists, tuples, dicts, sets and frozensets (nested up to 3 deep)
 * of them, whose elements number at most *budget in all and whose strings are short: their
 * whole repr is exact, small and runs no user code. */
static int is_plain_tree(PyObject *v, Py_ssize_t *budget, int depth) {
    PyTypeObject *t = Py_TYPE(v);
    Py_ssize_t i, n;
    if (t == &PyUnicode_Type) return (*budget -= PyUnicode_GET_LENGTH(v) / 16) >= 0;
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
            if (!is_plain_tree(key, budget, depth + 1) || !is_plain_tree(value, budget, depth + 1)) return 0;
        return 1;
    }
    if (t == &PySet_Type || t == &PyFrozenSet_Type) {
        /* a set's iterator runs no user code (it hashes nothing); an error means "not plain" */
        if ((*budget -= PySet_GET_SIZE(v)) < 0) return 0;
        PyObject *it = PyObject_GetIter(v), *key;
        if (it == NULL) { PyErr_Clear(); return 0; }
        int plain = 1;
        while (plain && (key = PyIter_Next(it)) != NULL) {
            plain = is_plain_tree(key, budget, depth + 1);
            Py_DECREF(key);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) { PyErr_Clear(); return 0; }
        return plain;
    }
    return 0;
}

/* The repr of a plain tree too big for is_plain_tree, written piece by piece and stopped as
 * soon as it is longer than the cap: a list of a million ints costs no more than one of 200.
 * The text kept is the first characters of the whole repr, exactly (each piece is the repr of
 * one plain value, or the punctuation list.__repr__ and the others write), so the cut text is
 * the one the Python renderer gives (render.py, rule 2). A value the walk cannot write exactly
 * (a string longer than the cap, whose cut repr needs render.py's quoting; an int too large to
 * print; anything not plain) makes it give up, and the Python renderer takes the whole value. */
typedef struct {
    PyObject *pieces;   /* list of str */
    Py_ssize_t length;  /* characters in pieces */
    Py_ssize_t cap;     /* stop once length > cap */
} Bounded;

enum { WALK_OK = 0, WALK_FULL = 1, WALK_GIVE_UP = 2, WALK_ERROR = -1 };

static PyObject *s_comma, *s_colon, *s_open_list, *s_close_list, *s_open_tuple, *s_close_tuple, *s_close_tuple1,
    *s_open_dict, *s_close_dict, *s_empty_set, *s_open_frozenset, *s_close_frozenset, *s_empty_frozenset;

static int put_piece(Bounded *b, PyObject *piece) {
    if (PyList_Append(b->pieces, piece) < 0) return WALK_ERROR;
    b->length += PyUnicode_GET_LENGTH(piece);
    return b->length > b->cap ? WALK_FULL : WALK_OK;
}

#define PUT(piece) do { int rc_ = put_piece(b, (piece)); if (rc_ != WALK_OK) return rc_; } while (0)
#define WALK(item) do { int rc_ = walk_plain(b, (item), depth + 1); if (rc_ != WALK_OK) return rc_; } while (0)

static int walk_plain(Bounded *b, PyObject *v, int depth) {
    PyTypeObject *t = Py_TYPE(v);
    if (is_plain(v)) {
        if (t == &PyUnicode_Type && PyUnicode_GET_LENGTH(v) > b->cap) return WALK_GIVE_UP;
        PyObject *text = PyObject_Repr(v);
        if (text == NULL) { PyErr_Clear(); return WALK_GIVE_UP; } /* an int too large to print */
        int rc = put_piece(b, text);
        Py_DECREF(text);
        return rc;
    }
    if (depth >= 3) return WALK_GIVE_UP;
    if (t == &PyList_Type) {
        PUT(s_open_list);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            if (i) PUT(s_comma);
            WALK(PyList_GET_ITEM(v, i));
        }
        PUT(s_close_list);
        return WALK_OK;
    }
    if (t == &PyTuple_Type) {
        Py_ssize_t n = PyTuple_GET_SIZE(v);
        PUT(s_open_tuple);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i) PUT(s_comma);
            WALK(PyTuple_GET_ITEM(v, i));
        }
        PUT(n == 1 ? s_close_tuple1 : s_close_tuple);
        return WALK_OK;
    }
    if (t == &PyDict_Type) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        int first = 1;
        PUT(s_open_dict);
        while (PyDict_Next(v, &pos, &key, &value)) {
            if (!first) PUT(s_comma);
            first = 0;
            WALK(key);
            PUT(s_colon);
            WALK(value);
        }
        PUT(s_close_dict);
        return WALK_OK;
    }
    if (t == &PySet_Type || t == &PyFrozenSet_Type) {
        if (PySet_GET_SIZE(v) == 0) { PUT(t == &PySet_Type ? s_empty_set : s_empty_frozenset); return WALK_OK; }
        PUT(t == &PySet_Type ? s_open_dict : s_open_frozenset);
        PyObject *it = PyObject_GetIter(v), *key;
        if (it == NULL) return WALK_ERROR;
        int rc = WALK_OK, first = 1;
        while (rc == WALK_OK && (key = PyIter_Next(it)) != NULL) {
            if (!first) rc = put_piece(b, s_comma);
            first = 0;
            if (rc == WALK_OK) rc = walk_plain(b, key, depth + 1);
            Py_DECREF(key);
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) return WALK_ERROR;
        if (rc != WALK_OK) return rc;
        PUT(t == &PySet_Type ? s_close_dict : s_close_frozenset);
        return WALK_OK;
    }
    return WALK_GIVE_UP;
}

#undef PUT
#undef WALK

/* The rendered text of a plain tree of any size (its repr, cut at max_chars with "..."), or
 * NULL without an error set when the Python renderer must render it. */
static PyObject *render_plain_tree(CTracer *self, PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    Py_ssize_t head_size = self->max_chars / 3 + 2;
    if ((t == &PyList_Type || t == &PyTuple_Type) && Py_SIZE(v) > head_size) {
        /* A long list or tuple: every element prints as at least one character and a ", ", so
         * the repr of its first max_chars/3 + 2 elements, less the closing bracket, is already
         * longer than the cap, and it is the whole repr's beginning. Python's own repr of that
         * head is the fastest way to it. */
        PyObject *head = t == &PyList_Type ? PyList_GetSlice(v, 0, head_size) : PyTuple_GetSlice(v, 0, head_size);
        if (head == NULL) return NULL;
        Py_ssize_t budget = head_size + self->max_chars / 2;
        PyObject *text = is_plain_tree(head, &budget, 0) ? PyObject_Repr(head) : NULL;
        Py_DECREF(head);
        if (text == NULL) {
            PyErr_Clear(); /* not plain, or an int too large to print: the walk decides */
        } else if (PyUnicode_GET_LENGTH(text) - 1 > self->max_chars) {
            PyObject *cut = PyUnicode_Substring(text, 0, self->max_chars);
            Py_DECREF(text);
            if (cut == NULL) return NULL;
            Py_SETREF(cut, PyUnicode_Concat(cut, s_ellipsis));
            return cut;
        } else {
            Py_DECREF(text);
        }
    }
    Bounded b = {PyList_New(0), 0, self->max_chars};
    if (b.pieces == NULL) return NULL;
    int rc = walk_plain(&b, v, 0);
    PyObject *text = NULL;
    if (rc == WALK_OK || rc == WALK_FULL) {
        PyObject *whole = PyUnicode_Join(s_empty_text, b.pieces);
        if (whole != NULL && rc == WALK_FULL) {
            PyObject *head = PyUnicode_Substring(whole, 0, self->max_chars);
            text = head == NULL ? NULL : PyUnicode_Concat(head, s_ellipsis);
            Py_XDECREF(head);
            Py_DECREF(whole);
        } else {
            text = whole;
        }
    }
    Py_DECREF(b.pieces);
    return text;
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

/* Render one value: Python's repr where that is exact and safe (cut at max_chars in C for
 * plain trees, see render_plain_tree), else the Python renderer. */
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
    if (!opaque && !is_plain(v)) {
        PyObject *text = render_plain_tree(self, v);
        if (text != NULL || PyErr_Occurred()) return text;
    }
    return PyObject_CallOneArg(self->render, v);
}

/* The text of the local in slot `slot` of a snapshot (its place in locals order), reusing the
 * previous snapshot's text where it cannot have changed: a loop's unchanged locals are not
 * rendered again at every line (and the formatter, which writes ".." for them, then compares
 * one object with itself).
 * - A plain value (str, int, float, bool, None: immutable): its text depends on nothing but
 *   the object, so the very same object in the slot means the same text.
 * - A list or tuple: the same object, of the same length, holding the very same plain values
 *   as when it was rendered (pointers compared) has the same repr. A list longer than
 *   `head` items (max_chars / 3 + 2) shows only its head before the cut (see
 *   render_plain_tree), so only the head is compared.
 * The slot keeps strong references, so an identity match is never a new object at a freed
 * address; forget_texts lets go of them at the end of the run. */
static PyObject *slot_text(CTracer *self, Py_ssize_t slot, PyObject *value) {
    PyTypeObject *t = Py_TYPE(value);
    int scalar = is_plain(value), sequence = t == &PyList_Type || t == &PyTuple_Type;
    if (!scalar && !sequence) return render_value(self, value);
    Py_ssize_t head = self->max_chars / 3 + 2, n = sequence ? Py_SIZE(value) : 0, k = n < head ? n : head, i = 0;
    PyObject **items = sequence ? PySequence_Fast_ITEMS(value) : NULL;
    struct Kept *kept = slot < self->n_kept ? &self->kept[slot] : NULL;
    if (kept != NULL && kept->value == value) {
        int same = scalar;
        if (!scalar && kept->head != NULL && PyTuple_GET_SIZE(kept->head) == k && (kept->size == n || (kept->size == -1 && n > head))) {
            while (i < k && PyTuple_GET_ITEM(kept->head, i) == items[i]) i++;
            same = i == k;
        }
        if (same) {
            Py_INCREF(kept->text);
            return kept->text;
        }
    }
    /* Only a list or tuple whose (head) items are plain values is kept: rendering it runs
     * no user code, so the items after rendering are the ones the text shows, and none of them
     * can change in place. */
    for (i = 0; i < k && is_plain(items[i]); i++) {}
    PyObject *text = render_value(self, value);
    if (text == NULL || (sequence && i < k)) return text;
    PyObject *snapshot_head = sequence ? PyTuple_New(k) : NULL;
    if (sequence && snapshot_head == NULL) { PyErr_Clear(); return text; }
    for (i = 0; i < k; i++) { Py_INCREF(items[i]); PyTuple_SET_ITEM(snapshot_head, i, items[i]); }
    if (kept == NULL) {
        struct Kept *grown = PyMem_Realloc(self->kept, (slot + 8) * sizeof(struct Kept));
        if (grown == NULL) { Py_XDECREF(snapshot_head); return text; } /* the text is right all the same */
        memset(grown + self->n_kept, 0, (slot + 8 - self->n_kept) * sizeof(struct Kept));
        self->kept = grown;
        self->n_kept = slot + 8;
        kept = &self->kept[slot];
    }
    Py_INCREF(value);
    Py_XSETREF(kept->value, value);
    Py_INCREF(text);
    Py_XSETREF(kept->text, text);
    Py_XSETREF(kept->head, snapshot_head);
    kept->size = n > head ? -1 : n;
    return text;
}

/* Drop the kept values at the end of a run: the hook holds nothing of the program. */
static void forget_texts(CTracer *self) {
    for (Py_ssize_t i = 0; i < self->n_kept; i++) {
        Py_CLEAR(self->kept[i].value);
        Py_CLEAR(self->kept[i].text);
        Py_CLEAR(self->kept[i].head);
    }
    PyMem_Free(self->kept);
    self->kept = NULL;
    self->n_kept = 0;
}

static PyObject *snapshot(CTracer *self, PyFrameObject *frame, int module_level) {
    Py_ssize_t slot = 0;
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
            PyObject *text = slot_text(self, slot++, value);
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
            PyObject *text = slot_text(self, slot++, value);
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

/* The hook holds the Recorder's bound methods, and the Recorder holds the hook: a reference
 * cycle that only the garbage collector can free, so the type takes part in collection
 * (without it every C-hook Recorder, with all its steps, stayed alive for good). */
static int CTracer_traverse(CTracer *self, visitproc visit, void *arg) {
    Py_VISIT(self->filename); Py_VISIT(self->steps); Py_VISIT(self->render);
    Py_VISIT(self->on_limit); Py_VISIT(self->on_flush); Py_VISIT(self->opaque_types);
    Py_VISIT(self->open_frames);
    return 0;
}

static int CTracer_clear(CTracer *self) {
    Py_CLEAR(self->filename); Py_CLEAR(self->steps); Py_CLEAR(self->render);
    Py_CLEAR(self->on_limit); Py_CLEAR(self->on_flush); Py_CLEAR(self->opaque_types);
    Py_CLEAR(self->open_frames);
    forget_texts(self);
    return 0;
}

static void CTracer_dealloc(CTracer *self) {
    PyObject_GC_UnTrack(self);
    CTracer_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *CTracer_start(CTracer *self, PyObject *unused) {
    PyEval_SetTrace(trace_fn, (PyObject *)self);
    Py_RETURN_NONE;
}

static PyObject *CTracer_stop(CTracer *self, PyObject *unused) {
    PyEval_SetTrace(NULL, NULL);
    forget_texts(self);
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
    {"stop", (PyCFunction)CTracer_stop, METH_NOARGS, "Remove this thread's trace function and forget the values it kept."},
    {"mark_flushed", (PyCFunction)CTracer_mark_flushed, METH_O, "Set how many steps were flushed."},
    {NULL}
};

static PyTypeObject CTracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "codewm.trace._ctracer.CTracer",
    .tp_basicsize = sizeof(CTracer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CTracer_init,
    .tp_dealloc = (destructor)CTracer_dealloc,
    .tp_traverse = (traverseproc)CTracer_traverse,
    .tp_clear = (inquiry)CTracer_clear,
    .tp_free = PyObject_GC_Del,
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
    s_comma = PyUnicode_InternFromString(", ");
    s_colon = PyUnicode_InternFromString(": ");
    s_open_list = PyUnicode_InternFromString("[");
    s_close_list = PyUnicode_InternFromString("]");
    s_open_tuple = PyUnicode_InternFromString("(");
    s_close_tuple = PyUnicode_InternFromString(")");
    s_close_tuple1 = PyUnicode_InternFromString(",)");
    s_open_dict = PyUnicode_InternFromString("{");
    s_close_dict = PyUnicode_InternFromString("}");
    s_empty_set = PyUnicode_InternFromString("set()");
    s_open_frozenset = PyUnicode_InternFromString("frozenset({");
    s_close_frozenset = PyUnicode_InternFromString("})");
    s_empty_frozenset = PyUnicode_InternFromString("frozenset()");
    s_empty_text = PyUnicode_InternFromString("");
    s_ellipsis = PyUnicode_InternFromString("...");
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&CTracerType);
    if (PyModule_AddObject(m, "CTracer", (PyObject *)&CTracerType) < 0) return NULL;
    return m;
}
