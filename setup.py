"""The one part of the build pyproject.toml cannot declare in a stable form: a C extension.

ledger/_batch_verify.c checks Ed25519 signatures in batches, giving up the
interpreter lock once per batch (ledger/keys.py, `verify_batch`). It is optional:
without a C compiler and Python's headers the install still succeeds and the node
checks one signature per call, by the same rule.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("ledger._batch_verify", sources=["ledger/_batch_verify.c"], optional=True)
    ]
)
