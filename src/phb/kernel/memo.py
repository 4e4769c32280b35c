"""Answers remembered for the length of one unit of work (`scope()`), e.g. one Bundle imported in one
transaction: who the API client's service user is, whether a patient is registered here, a patient's
birth date. Outside a scope nothing is remembered and every call asks the database, as before.

Only what cannot change inside the unit of work belongs here: a scope is opened by code that writes
nothing that would change those answers (an import creates records; it does not deregister a
patient or change a birth date). `cached(keep_none=False)` does not remember a None: "not registered
yet" may become "registered" by an earlier entry of the same Bundle."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

_store: ContextVar[dict[Any, Any] | None] = ContextVar("phb_memo", default=None)
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """Remember answers until the block ends (a scope inside a scope shares the outer one)."""
    if _store.get() is not None:
        yield
        return
    token = _store.set({})
    try:
        yield
    finally:
        _store.reset(token)


def active() -> bool:
    return _store.get() is not None


def cached(*, keep_none: bool = False) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            store = _store.get()
            if store is None:
                return fn(*args, **kwargs)
            try:
                key = (name, args, tuple(sorted(kwargs.items())))
                hash(key)
            except TypeError:
                return fn(*args, **kwargs)
            if key in store:
                return store[key]
            value = fn(*args, **kwargs)
            if value is not None or keep_none:
                store[key] = value
            return value

        return wrapper  # type: ignore[return-value]

    return decorate
