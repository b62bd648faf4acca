/* A sealed, untraced run: the program's verdict is decided and signed here, in C.
 *
 * A traced run's report is made by Python code in the program's own process, so a program
 * that reaches codewm's objects (frames, the garbage collector, patched modules) can forge
 * it. A sealed run closes that gap for what an untraced run reports (status, return value;
 * the output is split at a mark only this code knows):
 *
 * - `run` takes the channel's key and output marker out of the caller's bytearrays (which it
 *   zeroes, so no Python object holds them any more), then runs the program; nothing written
 *   in Python can sign a message after that, and `run` refuses a second call;
 * - the verdict (ok / exception / memory_limit, and the return value's repr where it is a
 *   plain value) is taken from what the program's code object and entry point did, here,
 *   and sent here; then the process ends with _exit, so no Python code runs after it;
 * - an audit hook (C: a program cannot remove or patch it) refuses, from then on, the ways a
 *   Python program reaches raw memory: ctypes, building code objects (crafted bytecode),
 *   marshal.loads, symlinks, and opening anything under /proc or named mem; the process is
 *   made non-dumpable, so another process of the same user cannot read it either.
 *
 * The HMAC and the JSON string escaping are functions of CPython's own C modules, bound
 * when this module is imported (in the worker, before any program ran): a program cannot
 * replace them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define KEY_BYTES 32
#define MARKER_BYTES 8
#define TAG_BYTES 16

static PyObject *hmac_digest;   /* _hashlib.hmac_digest */
static PyObject *json_string;   /* _json.encode_basestring_ascii */
static int sealed = 0;          /* set once `run` began: the audit hook refuses, `run` too */
static int channel_fd = -1;
static unsigned char channel_key[KEY_BYTES];
static unsigned char output_marker[MARKER_BYTES];
static const char OUTPUT_MARK[] = "\0codewm-output-end\0"; /* protocol.OUTPUT_MARK */
#define OUTPUT_MARK_BYTES 19

static int refuse(const char *event) {
    PyErr_Format(PyExc_PermissionError, "codewm sandbox: %s is not allowed in a checked run", event);
    return -1;
}

/* Whether a path names something under /proc, or a file called mem (however reached). */
static int forbidden_path(PyObject *path) {
    PyObject *encoded = NULL;
    if (PyUnicode_Check(path)) {
        encoded = PyUnicode_EncodeFSDefault(path);
        if (encoded == NULL) { PyErr_Clear(); return 1; }
    } else if (PyBytes_Check(path)) {
        Py_INCREF(path);
        encoded = path;
    } else {
        return 0; /* a descriptor: already open */
    }
    const char *raw = PyBytes_AS_STRING(encoded);
    int bad = 0;
    char resolved[PATH_MAX];
    if (realpath(raw, resolved) != NULL && (strcmp(resolved, "/proc") == 0 || strncmp(resolved, "/proc/", 6) == 0))
        bad = 1;
    /* A path relative to a directory descriptor (dir_fd, which the audit event does not
     * carry) is judged by its own components. */
    const char *part = raw;
    while (!bad && *part) {
        const char *end = strchr(part, '/');
        size_t n = end ? (size_t)(end - part) : strlen(part);
        if ((n == 4 && strncmp(part, "proc", 4) == 0) || (n == 3 && strncmp(part, "mem", 3) == 0)) bad = 1;
        if (!end) break;
        part = end + 1;
    }
    Py_DECREF(encoded);
    return bad;
}

static int audit_hook(const char *event, PyObject *args, void *unused) {
    if (!sealed) return 0;
    if (strcmp(event, "marshal.loads") == 0 || strcmp(event, "marshal.load") == 0) {
        /* Imports load cached bytecode through marshal: let the import system do so. */
        PyFrameObject *frame = PyEval_GetFrame(); /* borrowed */
        if (frame != NULL) {
            PyCodeObject *code = PyFrame_GetCode(frame);
            int importing = PyUnicode_CompareWithASCIIString(code->co_filename, "<frozen importlib._bootstrap_external>") == 0;
            Py_DECREF(code);
            if (importing) return 0;
        }
        return refuse(event);
    }
    if (strncmp(event, "ctypes.", 7) == 0 || strcmp(event, "code.__new__") == 0 || strcmp(event, "os.symlink") == 0 ||
        strcmp(event, "os.link") == 0)
        return refuse(event);
    if (strcmp(event, "open") == 0 && PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 1 && forbidden_path(PyTuple_GET_ITEM(args, 0)))
        return refuse("opening this path");
    return 0;
}

static void write_all(int fd, const char *data, Py_ssize_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, (size_t)size);
        if (n < 0) return; /* the worker is gone: nothing to tell */
        data += n;
        size -= n;
    }
}

/* Python's repr of a value that is a plain value (int, bool, float, str, None) or a built-in
 * list, tuple or dict of them, nested at most 3 deep: no user code runs. NULL otherwise. */
static int plain_tree(PyObject *v, int depth) {
    PyTypeObject *t = Py_TYPE(v);
    Py_ssize_t i;
    if (t == &PyLong_Type || t == &PyBool_Type || t == &PyFloat_Type || t == &PyUnicode_Type || v == Py_None) return 1;
    if (depth >= 3) return 0;
    if (t == &PyList_Type) {
        for (i = 0; i < PyList_GET_SIZE(v); i++) if (!plain_tree(PyList_GET_ITEM(v, i), depth + 1)) return 0;
        return 1;
    }
    if (t == &PyTuple_Type) {
        for (i = 0; i < PyTuple_GET_SIZE(v); i++) if (!plain_tree(PyTuple_GET_ITEM(v, i), depth + 1)) return 0;
        return 1;
    }
    if (t == &PyDict_Type) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(v, &pos, &key, &value))
            if (!plain_tree(key, 3) || !plain_tree(value, depth + 1)) return 0;
        return 1;
    }
    return 0;
}

/* A JSON string (quotes included) for `text`, or "null" for NULL. New reference. */
static PyObject *json_text(PyObject *text) {
    if (text == NULL) return PyUnicode_FromString("null");
    return PyObject_CallOneArg(json_string, text);
}

/* Sign and send {"final": {...}} as protocol.SignedChannel does, then mark the output's end. */
static void send_final(long long counter, long index, const char *status, PyObject *error, PyObject *returned) {
    PyObject *error_json = json_text(error), *returned_json = json_text(returned);
    PyObject *json = NULL, *data = NULL, *key = NULL, *tag = NULL;
    if (error_json == NULL || returned_json == NULL) goto fail;
    json = PyUnicode_FromFormat("{\"final\":{\"index\":%ld,\"status\":\"%s\",\"error\":%U,\"returned\":%U,\"touched\":[],\"sealed\":true}}",
                                index, status, error_json, returned_json);
    if (json == NULL) goto fail;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(json, &size); /* ASCII: the strings were escaped */
    if (utf8 == NULL) goto fail;
    /* payload = HEADER(len(json)) + json; the HMAC covers counter + payload */
    Py_ssize_t payload_size = 4 + size;
    char *buffer = PyMem_Malloc(8 + MARKER_BYTES + 4 + TAG_BYTES + payload_size);
    if (buffer == NULL) goto fail;
    char *payload = buffer + MARKER_BYTES + 4 + TAG_BYTES;
    unsigned char *head = (unsigned char *)payload;
    head[0] = (unsigned char)(size >> 24); head[1] = (unsigned char)(size >> 16); head[2] = (unsigned char)(size >> 8); head[3] = (unsigned char)size;
    memcpy(payload + 4, utf8, size);
    data = PyBytes_FromStringAndSize(NULL, 8 + payload_size);
    if (data == NULL) { PyMem_Free(buffer); goto fail; }
    unsigned char *signed_part = (unsigned char *)PyBytes_AS_STRING(data);
    for (int i = 0; i < 8; i++) signed_part[i] = (unsigned char)((unsigned long long)counter >> (56 - 8 * i));
    memcpy(signed_part + 8, payload, payload_size);
    key = PyBytes_FromStringAndSize((const char *)channel_key, KEY_BYTES);
    if (key == NULL) { PyMem_Free(buffer); goto fail; }
    tag = PyObject_CallFunction(hmac_digest, "OOs", key, data, "sha256");
    if (tag == NULL || !PyBytes_Check(tag) || PyBytes_GET_SIZE(tag) < TAG_BYTES) { PyMem_Free(buffer); goto fail; }
    memcpy(buffer, output_marker, MARKER_BYTES);
    unsigned char *length = (unsigned char *)buffer + MARKER_BYTES;
    length[0] = (unsigned char)(payload_size >> 24); length[1] = (unsigned char)(payload_size >> 16);
    length[2] = (unsigned char)(payload_size >> 8); length[3] = (unsigned char)payload_size;
    memcpy(buffer + MARKER_BYTES + 4, PyBytes_AS_STRING(tag), TAG_BYTES);
    write_all(channel_fd, buffer, MARKER_BYTES + 4 + TAG_BYTES + payload_size);
    PyMem_Free(buffer);
fail:
    PyErr_Clear();
    Py_XDECREF(error_json); Py_XDECREF(returned_json); Py_XDECREF(json); Py_XDECREF(data); Py_XDECREF(key); Py_XDECREF(tag);
}

static void flush_stream(const char *name) {
    PyObject *stream = PySys_GetObject(name); /* borrowed */
    if (stream != NULL && stream != Py_None) {
        PyObject *r = PyObject_CallMethod(stream, "flush", NULL);
        Py_XDECREF(r);
    }
    PyErr_Clear();
}

static int copy_secret(PyObject *from, unsigned char *to, Py_ssize_t size) {
    Py_buffer view;
    if (!PyByteArray_Check(from)) { PyErr_SetString(PyExc_TypeError, "the secret must be a bytearray"); return -1; }
    if (PyObject_GetBuffer(from, &view, PyBUF_WRITABLE) < 0) return -1;
    if (view.len != size) { PyBuffer_Release(&view); PyErr_SetString(PyExc_ValueError, "the secret has the wrong length"); return -1; }
    memcpy(to, view.buf, size);
    memset(view.buf, 0, size); /* every Python reference to it now reads zeros */
    PyBuffer_Release(&view);
    return 0;
}

/* run(fd, key, marker, counter, index, code, globals, entry): never returns. */
static PyObject *sealed_run(PyObject *module, PyObject *args) {
    int fd;
    PyObject *key, *marker, *code, *globals, *entry;
    long long counter;
    long index;
    if (sealed) { PyErr_SetString(PyExc_RuntimeError, "codewm sandbox: a checked run is already under way"); return NULL; }
    if (!PyArg_ParseTuple(args, "iOOLlO!O!O", &fd, &key, &marker, &counter, &index, &PyCode_Type, &code, &PyDict_Type, &globals, &entry))
        return NULL;
    if (hmac_digest == NULL || json_string == NULL) { PyErr_SetString(PyExc_RuntimeError, "_hashlib or _json is missing"); return NULL; }
    if (entry != Py_None && !PyUnicode_Check(entry)) { PyErr_SetString(PyExc_TypeError, "entry must be a str or None"); return NULL; }
    if (copy_secret(key, channel_key, KEY_BYTES) < 0 || copy_secret(marker, output_marker, MARKER_BYTES) < 0) return NULL;
    channel_fd = fd;
    sealed = 1;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    Py_INCREF(entry);
    Py_INCREF(globals);

    const char *status = "ok";
    PyObject *error = NULL, *returned = NULL;
    PyObject *result = PyEval_EvalCode(code, globals, globals);
    if (result != NULL && entry != Py_None) {
        Py_DECREF(result);
        PyObject *function = PyDict_GetItemWithError(globals, entry); /* borrowed */
        if (function == NULL) {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_NameError, "the program defines no %U() entry point", entry);
            result = NULL;
        } else {
            Py_INCREF(function);
            result = PyObject_CallNoArgs(function);
            Py_DECREF(function);
        }
    }
    if (result == NULL) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        status = (type != NULL && PyErr_GivenExceptionMatches(type, PyExc_MemoryError)) ? "memory_limit" : "exception";
        /* repr(exception) as a traced run renders it; its type's name where that is long or
         * fails. (The repr may run the program's code: it can no longer sign anything.) */
        if (value != NULL) error = PyObject_Repr(value);
        PyErr_Clear();
        if ((error == NULL || PyUnicode_GET_LENGTH(error) > 1000) && type != NULL && PyType_Check(type)) {
            Py_XDECREF(error);
            error = PyType_GetQualName((PyTypeObject *)type);
        }
        Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(traceback);
        PyErr_Clear();
    } else {
        if (entry != Py_None && plain_tree(result, 0)) returned = PyObject_Repr(result);
        PyErr_Clear();
        Py_DECREF(result);
    }
    flush_stream("stdout");
    flush_stream("stderr");
    char mark[OUTPUT_MARK_BYTES + MARKER_BYTES];
    memcpy(mark, OUTPUT_MARK, OUTPUT_MARK_BYTES);
    memcpy(mark + OUTPUT_MARK_BYTES, output_marker, MARKER_BYTES);
    write_all(1, mark, sizeof mark);
    send_final(counter, index, status, error, returned);
    _exit(0);
}

static PyMethodDef module_methods[] = {
    {"run", sealed_run, METH_VARARGS, "run(fd, key, marker, counter, index, code, globals, entry): run a program sealed; never returns."},
    {NULL}
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_csealed", NULL, -1, module_methods};

static PyObject *bind(const char *module, const char *name) {
    PyObject *m = PyImport_ImportModule(module);
    if (m == NULL) { PyErr_Clear(); return NULL; }
    PyObject *f = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    if (f == NULL || !PyCFunction_Check(f)) { Py_XDECREF(f); PyErr_Clear(); return NULL; }
    return f;
}

PyMODINIT_FUNC PyInit__csealed(void) {
    hmac_digest = bind("_hashlib", "hmac_digest");
    json_string = bind("_json", "encode_basestring_ascii");
    if (PySys_AddAuditHook(audit_hook, NULL) < 0) return NULL;
    return PyModule_Create(&moduledef);
}
