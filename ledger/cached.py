"""A computed attribute kept on the instance after its first use, without a lock.

`functools.cached_property` (before Python 3.12) takes one lock per attribute of
the class, shared by every instance, to compute a value: transaction hashes,
signer lists and encodings are computed on the event loop, the verification
pool and the block worker at the same time, and threads queueing on that lock
(and for the GIL behind it) showed up in validator profiles. The values cached
here are pure functions of immutable objects, so two threads computing the same
one at once both get equal values; no lock is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class cached_attribute(Generic[T]):  # noqa: N801 - used as a decorator, like property
    """Like `functools.cached_property`: the first read stores the value in the
    instance's `__dict__`, which later reads find before this descriptor."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_attribute[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value
