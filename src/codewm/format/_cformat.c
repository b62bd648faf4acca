/* The CWM formatter's hot paths in C, behind codewm/format/cwm.py and format/pretokens.py:
 *
 * - format_steps: the CWM text of the tracer's raw steps, without building Frame objects;
 * - longest_value: the longest rendered value in raw steps;
 * - count_pretokens: the dataset's stand-in for a tokenizer.
 *
 * Each has a pure-Python twin that gives the same result (tests hold it); this extension is
 * optional and only makes dataset builds faster.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *s_call, *s_line, *s_return;

/* format_steps(steps, lines, complete, encode) -> str
 *
 * The CWM text of raw steps, exactly as codewm.format.cwm.format_frames writes the frames
 * made from them: `lines` are the context's lines as actions (newline-terminated, marker
 * removed), or the context itself where it is ASCII with nothing to escape (see Actions),
 * `encode` is json.encoder.encode_basestring. The `".."` rule is the one
 * documented in codewm/format/cwm.py. */
static PyObject *s_tok_call, *s_tok_line, *s_tok_return, *s_tok_exception, *s_action, *s_arg, *s_frame, *s_end,
    *s_open, *s_close, *s_colon, *s_comma, *s_dots, *s_empty, *s_empty_locals;

static PyObject *s_token_open, *s_token_open_escaped;

/* encode(text), with "<|" written as "<\\u007c" (see codewm.format.cwm.json_string). */
static PyObject *encode_json(PyObject *encode, PyObject *text) {
    PyObject *out = PyObject_CallOneArg(encode, text);
    if (out == NULL) return NULL;
    Py_ssize_t found = PyUnicode_Find(out, s_token_open, 0, PyUnicode_GET_LENGTH(out), 1);
    if (found == -1) return out;
    if (found == -2) { Py_DECREF(out); return NULL; }
    PyObject *escaped = PyUnicode_Replace(out, s_token_open, s_token_open_escaped, -1);
    Py_DECREF(out);
    return escaped;
}

static PyObject *s_quote, *s_newline;

/* Where format_steps writes: one growing buffer of 1-byte characters while every piece is
 * Latin-1 (nearly every trace), copied once into the result; from the first wider piece on,
 * a list of pieces joined at the end. Either way the text is the pieces in order. */
typedef struct {
    Py_UCS1 *buf;
    Py_ssize_t len, cap;
    PyObject *pieces; /* NULL while every piece fit the buffer */
} Writer;

static int writer_spill(Writer *w) {
    w->pieces = PyList_New(0);
    if (w->pieces == NULL) return -1;
    PyObject *head = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, w->buf, w->len);
    if (head == NULL) return -1;
    int err = PyList_Append(w->pieces, head);
    Py_DECREF(head);
    return err;
}

static inline int writer_bytes(Writer *w, const Py_UCS1 *data, Py_ssize_t n) {
    if (w->len + n > w->cap) {
        Py_ssize_t cap = w->cap ? w->cap : 1024;
        while (cap < w->len + n) cap *= 2;
        Py_UCS1 *grown = PyMem_Realloc(w->buf, cap);
        if (grown == NULL) { PyErr_NoMemory(); return -1; }
        w->buf = grown;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
    return 0;
}

static inline int writer_put(Writer *w, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "the CWM text is made of str pieces, not %.100s", Py_TYPE(text)->tp_name);
        return -1;
    }
    if (w->pieces == NULL && PyUnicode_KIND(text) == PyUnicode_1BYTE_KIND)
        return writer_bytes(w, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
    if (w->pieces == NULL && writer_spill(w) < 0) return -1;
    return PyList_Append(w->pieces, text);
}

static PyObject *writer_finish(Writer *w) {
    PyObject *text;
    if (w->pieces == NULL) {
        text = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, w->buf, w->len);
    } else {
        text = PyUnicode_Join(s_empty, w->pieces);
    }
    return text;
}

static void writer_free(Writer *w) {
    PyMem_Free(w->buf);
    Py_CLEAR(w->pieces);
}

/* Write the JSON text of `text`. Most rendered values need no escaping (no quote, backslash,
 * control character or "<|"): then the text itself goes in between two quotes, with no new
 * string made (encode_basestring copies every value, the format's main cost). */
static int push_json(Writer *w, PyObject *encode, PyObject *text) {
    if (PyUnicode_CheckExact(text) && PyUnicode_KIND(text) == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *s = PyUnicode_1BYTE_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0;
        for (; i < n; i++) {
            Py_UCS1 c = s[i];
            if (c < 0x20 || c == '"' || c == '\\' || (c == '<' && i + 1 < n && s[i + 1] == '|')) break;
        }
        if (i == n)
            return (writer_put(w, s_quote) < 0 || writer_put(w, text) < 0 || writer_put(w, s_quote) < 0) ? -1 : 0;
    }
    PyObject *v = encode_json(encode, text);
    if (v == NULL) return -1;
    int err = writer_put(w, v);
    Py_DECREF(v);
    return err;
}

/* The actions the steps' line numbers refer to: a list of action texts (index i: line i + 1),
 * or read straight off an ASCII context without making a string per line. Off a context, a
 * line is what codewm.types.action_lines makes of it: lines end at "\n" only, each action
 * ends in "\n", and a line holding the trace's start marker loses its first marker and the
 * blanks before it. */
static const char START_MARKER[] = "# << START_OF_TRACE";

typedef struct {
    PyObject *list;          /* the action texts, or NULL: read off `text` */
    const Py_UCS1 *text;
    Py_ssize_t *starts;      /* line i (from 0) spans starts[i] .. starts[i + 1] */
    Py_ssize_t n;            /* how many lines */
    Py_ssize_t *marked;      /* the lines holding the marker ... */
    PyObject **marked_text;  /* ... and their actions */
    Py_ssize_t n_marked;
} Actions;

static void actions_free(Actions *a) {
    for (Py_ssize_t i = 0; i < a->n_marked; i++) Py_XDECREF(a->marked_text[i]);
    PyMem_Free(a->marked_text);
    PyMem_Free(a->marked);
    PyMem_Free(a->starts);
}

/* The action of a line holding the marker at `at`: the blanks before the marker and the
 * marker dropped, a "\n" at the end. */
static PyObject *marked_action(const Py_UCS1 *line, Py_ssize_t length, Py_ssize_t at) {
    Py_ssize_t head = at, mlen = (Py_ssize_t)(sizeof(START_MARKER) - 1);
    while (head > 0 && Py_UNICODE_ISSPACE(line[head - 1])) head--;
    Py_ssize_t tail = length - at - mlen;
    int newline = tail > 0 && line[length - 1] == '\n';
    Py_UCS1 *buf = PyMem_Malloc(head + tail + 1);
    if (buf == NULL) { PyErr_NoMemory(); return NULL; }
    memcpy(buf, line, head);
    memcpy(buf + head, line + at + mlen, tail);
    if (!newline) buf[head + tail++] = '\n';
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, buf, head + tail);
    PyMem_Free(buf);
    return text;
}

static int actions_from_context(Actions *a, PyObject *context) {
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(context);
    Py_ssize_t len = PyUnicode_GET_LENGTH(context), n = 0, mlen = (Py_ssize_t)(sizeof(START_MARKER) - 1);
    for (Py_ssize_t i = 0; i < len; i++) n += s[i] == '\n';
    if (len > 0 && s[len - 1] != '\n') n++;
    a->text = s;
    a->n = n;
    a->starts = PyMem_Malloc((n + 1) * sizeof(Py_ssize_t));
    if (a->starts == NULL) { PyErr_NoMemory(); return -1; }
    Py_ssize_t line = 0;
    a->starts[0] = 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if (s[i] == '\n') a->starts[++line] = i + 1;
    a->starts[n] = len;
    for (Py_ssize_t i = 0; i < n; i++) {
        const Py_UCS1 *start = s + a->starts[i];
        Py_ssize_t length = a->starts[i + 1] - a->starts[i];
        const Py_UCS1 *hash = memchr(start, '#', length);
        while (hash != NULL && (hash - start) + mlen <= length && memcmp(hash, START_MARKER, mlen) != 0)
            hash = memchr(hash + 1, '#', length - (hash + 1 - start));
        if (hash == NULL || (hash - start) + mlen > length) continue;
        Py_ssize_t *marked = PyMem_Realloc(a->marked, (a->n_marked + 1) * sizeof(Py_ssize_t));
        if (marked == NULL) { PyErr_NoMemory(); return -1; }
        a->marked = marked;
        PyObject **texts = PyMem_Realloc(a->marked_text, (a->n_marked + 1) * sizeof(PyObject *));
        if (texts == NULL) { PyErr_NoMemory(); return -1; }
        a->marked_text = texts;
        PyObject *text = marked_action(start, length, hash - start);
        if (text == NULL) return -1;
        a->marked[a->n_marked] = i;
        a->marked_text[a->n_marked++] = text;
    }
    return 0;
}

/* Write the action of line `lineno` (from 1; none for a number out of range). */
static int write_action(Writer *w, Actions *a, Py_ssize_t lineno) {
    if (lineno < 1 || lineno > a->n) return 0;
    if (a->list != NULL) return writer_put(w, PyList_GET_ITEM(a->list, lineno - 1));
    for (Py_ssize_t i = 0; i < a->n_marked; i++)
        if (a->marked[i] == lineno - 1) return writer_put(w, a->marked_text[i]);
    Py_ssize_t start = a->starts[lineno - 1], end = a->starts[lineno];
    if (w->pieces == NULL && writer_bytes(w, a->text + start, end - start) < 0) return -1;
    if (w->pieces != NULL) {
        PyObject *piece = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, a->text + start, end - start);
        if (piece == NULL) return -1;
        int err = PyList_Append(w->pieces, piece);
        Py_DECREF(piece);
        if (err < 0) return -1;
    }
    return a->text[end - 1] == '\n' ? 0 : writer_put(w, s_newline);
}

#define PUSH(obj) do { if (writer_put(&writer, (obj)) < 0) goto fail; } while (0)

static PyObject *format_steps(PyObject *module, PyObject *args) {
    PyObject *steps, *lines, *encode;
    int complete;
    if (!PyArg_ParseTuple(args, "O!OpO", &PyList_Type, &steps, &lines, &complete, &encode)) return NULL;
    Actions actions = {NULL, NULL, NULL, 0, NULL, NULL, 0};
    if (PyList_Check(lines)) {
        actions.list = lines;
        actions.n = PyList_GET_SIZE(lines);
    } else if (PyUnicode_Check(lines) && PyUnicode_IS_ASCII(lines)) {
        if (actions_from_context(&actions, lines) < 0) { actions_free(&actions); return NULL; }
    } else {
        PyErr_SetString(PyExc_TypeError, "format_steps: the actions are a list of texts or an ASCII context");
        return NULL;
    }
    Writer writer = {NULL, 0, 0, NULL};
    PyObject *keys = PyDict_New(); /* name -> its JSON text: names repeat in every frame */
    if (keys == NULL) { actions_free(&actions); return NULL; }
    PyObject *reference = NULL; /* borrowed: the locals dict that ".." refers to */
    Py_ssize_t n = PyList_GET_SIZE(steps);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *step = PyList_GET_ITEM(steps, i);
        if (!PyTuple_Check(step) || PyTuple_GET_SIZE(step) < 5) {
            PyErr_Format(PyExc_ValueError, "step %zd is not a step tuple", i);
            goto fail;
        }
        PyObject *event = PyTuple_GET_ITEM(step, 0);
        Py_ssize_t lineno = PyLong_AsSsize_t(PyTuple_GET_ITEM(step, 1));
        if (lineno == -1 && PyErr_Occurred()) goto fail;
        PyObject *locals = PyTuple_GET_ITEM(step, 3);
        /* the tracer's event names are these very (interned) strings: identity first */
        int is_call = event == s_call || PyUnicode_Compare(event, s_call) == 0;
        int is_line = !is_call && (event == s_line || PyUnicode_Compare(event, s_line) == 0);
        if (is_call || is_line) {
            if (!PyDict_Check(locals)) { PyErr_Format(PyExc_ValueError, "step %zd has no locals", i); goto fail; }
            PyObject *ref = is_line ? reference : NULL;
            PUSH(is_call ? s_tok_call : s_tok_line);
            if (PyDict_GET_SIZE(locals) == 0) {
                PUSH(s_empty_locals);
            } else {
                PyObject *key, *value, *ref_key, *ref_value;
                Py_ssize_t pos = 0, ref_pos = 0;
                int first = 1, in_step = ref != NULL; /* the reference's keys so far in the same order */
                PUSH(s_open);
                while (PyDict_Next(locals, &pos, &key, &value)) {
                    if (!first) PUSH(s_comma);
                    first = 0;
                    PyObject *k = PyDict_GetItemWithError(keys, key); /* borrowed */
                    if (k == NULL) {
                        if (PyErr_Occurred()) goto fail;
                        k = encode_json(encode, key);
                        if (k == NULL) goto fail;
                        int stored = PyDict_SetItem(keys, key, k);
                        Py_DECREF(k);
                        if (stored < 0) goto fail;
                    }
                    PUSH(k);
                    PUSH(s_colon);
                    /* A frame's locals mostly come in the previous frame's order: walk both
                     * dicts together, and look a name up only where they part. */
                    PyObject *old = NULL;
                    if (in_step && PyDict_Next(ref, &ref_pos, &ref_key, &ref_value) && ref_key == key) {
                        old = ref_value;
                    } else {
                        in_step = 0;
                        old = ref ? PyDict_GetItemWithError(ref, key) : NULL;
                        if (old == NULL && PyErr_Occurred()) goto fail;
                    }
                    int same = old != NULL ? PyObject_RichCompareBool(old, value, Py_EQ) : 0;
                    if (same < 0) goto fail;
                    if (PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) == 2 && PyUnicode_CompareWithASCIIString(value, "..") == 0) {
                        PyErr_Format(PyExc_ValueError,
                                     "the value of %R is the reserved text '..'; the renderer writes such a value as \"<repr '..'>\"", key);
                        goto fail;
                    }
                    if (same) {
                        PUSH(s_dots);
                    } else if (push_json(&writer, encode, value) < 0) {
                        goto fail;
                    }
                }
                PUSH(s_close);
            }
            PUSH(s_action);
            if (write_action(&writer, &actions, lineno) < 0) goto fail;
            PUSH(s_frame);
            reference = locals;
        } else {
            int is_return = event == s_return || PyUnicode_Compare(event, s_return) == 0;
            PyObject *value = PyTuple_GET_ITEM(step, 4);
            PUSH(is_return ? s_tok_return : s_tok_exception);
            PUSH(s_action);
            if (write_action(&writer, &actions, lineno) < 0) goto fail;
            PUSH(s_arg);
            if (push_json(&writer, encode, value == Py_None ? s_empty : value) < 0) goto fail;
            PUSH(s_frame);
            if (is_return) reference = NULL;
        }
    }
    if (complete) PUSH(s_end);
    PyObject *text = writer_finish(&writer);
    writer_free(&writer);
    actions_free(&actions);
    Py_DECREF(keys);
    return text;
fail:
    writer_free(&writer);
    actions_free(&actions);
    Py_DECREF(keys);
    return NULL;
}

/* count_pretokens(text) -> int: how many pieces r"<\|[a-z_]+\|>|\w+|\s+|[^\w\s]" finds,
 * as codewm.format.pretokens.count_pretokens defines them (a stand-in for a tokenizer). */
static int is_word(Py_UCS4 c) { return c == '_' || Py_UNICODE_ISALNUM(c); }

/* Character classes of ASCII, filled at import from the same predicates as the general path:
 * 1 = word, 2 = space, 0 = other. Dataset text is almost always ASCII (JSON escapes the rest). */
static unsigned char ascii_class[128];

static Py_ssize_t count_ascii_pretokens(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0, count = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '<' && i + 1 < n && s[i + 1] == '|') {
            Py_ssize_t j = i + 2;
            while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || s[j] == '_')) j++;
            if (j > i + 2 && j + 1 < n && s[j] == '|' && s[j + 1] == '>') {
                count++;
                i = j + 2;
                continue;
            }
        }
        unsigned char cls = ascii_class[c];
        i++;
        if (cls) while (i < n && ascii_class[s[i]] == cls) i++;
        count++;
    }
    return count;
}

static PyObject *count_pretokens(PyObject *module, PyObject *arg) {
    if (!PyUnicode_Check(arg)) { PyErr_SetString(PyExc_TypeError, "count_pretokens needs a str"); return NULL; }
    if (PyUnicode_IS_ASCII(arg))
        return PyLong_FromSsize_t(count_ascii_pretokens(PyUnicode_1BYTE_DATA(arg), PyUnicode_GET_LENGTH(arg)));
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg), i = 0, count = 0;
    int kind = PyUnicode_KIND(arg);
    const void *data = PyUnicode_DATA(arg);
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '<' && i + 1 < n && PyUnicode_READ(kind, data, i + 1) == '|') {
            Py_ssize_t j = i + 2;
            while (j < n) {
                Py_UCS4 d = PyUnicode_READ(kind, data, j);
                if ((d >= 'a' && d <= 'z') || d == '_') j++; else break;
            }
            if (j > i + 2 && j + 1 < n && PyUnicode_READ(kind, data, j) == '|' && PyUnicode_READ(kind, data, j + 1) == '>') {
                count++;
                i = j + 2;
                continue;
            }
        }
        if (is_word(c)) {
            while (i < n && is_word(PyUnicode_READ(kind, data, i))) i++;
        } else if (Py_UNICODE_ISSPACE(c)) {
            while (i < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i))) i++;
        } else {
            i++;
        }
        count++;
    }
    return PyLong_FromSsize_t(count);
}

/* longest_value(steps) -> int: the length of the longest rendered value in raw steps (a
 * local's value in call/line steps, the value of return/exception steps); what
 * codewm.format.cwm.describe_steps reports as max_value_chars. */
static PyObject *longest_value(PyObject *module, PyObject *steps) {
    if (!PyList_Check(steps)) { PyErr_SetString(PyExc_TypeError, "longest_value needs a list of steps"); return NULL; }
    Py_ssize_t longest = 0, n = PyList_GET_SIZE(steps);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *step = PyList_GET_ITEM(steps, i);
        if (!PyTuple_Check(step) || PyTuple_GET_SIZE(step) < 5) {
            PyErr_Format(PyExc_ValueError, "step %zd is not a step tuple", i);
            return NULL;
        }
        PyObject *locals = PyTuple_GET_ITEM(step, 3), *value = PyTuple_GET_ITEM(step, 4);
        if (PyDict_Check(locals)) {
            PyObject *key, *item;
            Py_ssize_t pos = 0;
            while (PyDict_Next(locals, &pos, &key, &item)) {
                if (!PyUnicode_Check(item)) { PyErr_Format(PyExc_ValueError, "step %zd has a value that is not a str", i); return NULL; }
                if (PyUnicode_GET_LENGTH(item) > longest) longest = PyUnicode_GET_LENGTH(item);
            }
        } else if (locals != Py_None) {
            PyErr_Format(PyExc_ValueError, "step %zd has locals that are not a dict", i);
            return NULL;
        }
        if (value != Py_None) {
            if (!PyUnicode_Check(value)) { PyErr_Format(PyExc_ValueError, "step %zd has a value that is not a str", i); return NULL; }
            if (PyUnicode_GET_LENGTH(value) > longest) longest = PyUnicode_GET_LENGTH(value);
        }
    }
    return PyLong_FromSsize_t(longest);
}

static PyMethodDef module_methods[] = {
    {"longest_value", longest_value, METH_O, "Longest rendered value in raw steps (see codewm.format.cwm.longest_value)."},
    {"count_pretokens", count_pretokens, METH_O, "Count pre-tokens (see codewm.format.pretokens.count_pretokens)."},
    {"format_steps", format_steps, METH_VARARGS, "CWM text of raw steps (see codewm.format.cwm.format_steps)."},
    {NULL}
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_cformat", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__cformat(void) {
    for (int c = 0; c < 128; c++)
        ascii_class[c] = is_word((Py_UCS4)c) ? 1 : Py_UNICODE_ISSPACE((Py_UCS4)c) ? 2 : 0;
    s_call = PyUnicode_InternFromString("call");
    s_line = PyUnicode_InternFromString("line");
    s_return = PyUnicode_InternFromString("return");
    s_tok_call = PyUnicode_InternFromString("<|call_sep|>");
    s_tok_line = PyUnicode_InternFromString("<|line_sep|>");
    s_tok_return = PyUnicode_InternFromString("<|return_sep|>");
    s_tok_exception = PyUnicode_InternFromString("<|exception_sep|>");
    s_action = PyUnicode_InternFromString("<|action_sep|>");
    s_arg = PyUnicode_InternFromString("<|arg_sep|>");
    s_frame = PyUnicode_InternFromString("<|frame_sep|>");
    s_end = PyUnicode_InternFromString("<|end_of_text|>");
    s_open = PyUnicode_InternFromString("{");
    s_close = PyUnicode_InternFromString("}");
    s_colon = PyUnicode_InternFromString(": ");
    s_comma = PyUnicode_InternFromString(", ");
    s_dots = PyUnicode_InternFromString("\"..\"");
    s_empty = PyUnicode_InternFromString("");
    s_quote = PyUnicode_InternFromString("\"");
    s_newline = PyUnicode_InternFromString("\n");
    s_empty_locals = PyUnicode_InternFromString("{}");
    s_token_open = PyUnicode_InternFromString("<|");
    s_token_open_escaped = PyUnicode_InternFromString("<\\u007c");
    return PyModule_Create(&moduledef);
}
