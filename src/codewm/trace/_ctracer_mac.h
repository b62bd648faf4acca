/* The steps' MAC of the C hook (included by _ctracer.c after the CTracer struct, whose
 * `mac_period` it reads): kept apart so that each file reads as one subject. */

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
