/*
 * Many Ed25519 signature checks in one call, without the interpreter lock.
 *
 * ledger/keys.py checks signatures with libsodium through PyNaCl, one call per
 * signature, and each call gives up the interpreter lock and takes it back. Under
 * load, with the event loop and the block worker wanting that lock too, taking it
 * back costs a signature-checking thread more than the Python around the call.
 * This module checks a whole batch in one call that gives up the lock once.
 *
 * It checks with the very function PyNaCl's own libsodium exports: ledger/keys.py
 * hands over its address (`use`) before the first batch, so the rule is the one
 * a single check through PyNaCl applies, and nothing is linked here but Python.
 *
 * check(records) -> bytes: `records` is, per check, public key (32) | signature
 * (64) | length of the signed message (2, big-endian) | the signed message; the
 * answer holds one byte per check, 1 when the signature verifies and 0 when not.
 * Records that do not parse raise ValueError and check nothing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define KEY_SIZE 32
#define SIGNATURE_SIZE 64
#define RECORD_HEAD (KEY_SIZE + SIGNATURE_SIZE + 2)

typedef int (*verify_detached_fn)(const unsigned char *signature, const unsigned char *message,
                                  unsigned long long message_length,
                                  const unsigned char *public_key);

static verify_detached_fn verify_detached = NULL;

static PyObject *use(PyObject *self, PyObject *arg) {
    unsigned long long address = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred()) return NULL;
    if (address == 0) {
        PyErr_SetString(PyExc_ValueError, "no function at address 0");
        return NULL;
    }
    verify_detached = (verify_detached_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static size_t message_length(const unsigned char *record) {
    return ((size_t)record[KEY_SIZE + SIGNATURE_SIZE] << 8) | record[KEY_SIZE + SIGNATURE_SIZE + 1];
}

static PyObject *check(PyObject *self, PyObject *arg) {
    if (verify_detached == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "use() was not called");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *records = view.buf;
    size_t size = (size_t)view.len, offset = 0;
    Py_ssize_t count = 0;
    /* parse all of it first: a malformed batch checks nothing */
    while (offset < size) {
        if (size - offset < RECORD_HEAD ||
            size - offset - RECORD_HEAD < message_length(records + offset)) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_ValueError, "signature check records do not parse");
            return NULL;
        }
        offset += RECORD_HEAD + message_length(records + offset);
        count++;
    }
    PyObject *answer = PyBytes_FromStringAndSize(NULL, count);
    if (answer == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    char *results = PyBytes_AS_STRING(answer);
    Py_BEGIN_ALLOW_THREADS
    offset = 0;
    for (Py_ssize_t index = 0; index < count; index++) {
        const unsigned char *record = records + offset;
        size_t length = message_length(record);
        results[index] = verify_detached(record + KEY_SIZE, record + RECORD_HEAD, length, record) == 0;
        offset += RECORD_HEAD + length;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return answer;
}

static PyMethodDef methods[] = {
    {"use", use, METH_O, "Check with the verify_detached function at this address."},
    {"check", check, METH_O, "One byte per record: 1 when its signature verifies."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_batch_verify", "Ed25519 checks in batches (ledger/keys.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__batch_verify(void) { return PyModule_Create(&module); }
