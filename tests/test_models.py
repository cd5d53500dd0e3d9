"""The quick ``__init__`` of the hot values (``models._quick_init``) is the one that
``dataclass`` writes: same signature, same values, defaults, factories, ``__post_init__``."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from monitor.models import Article, Hit, Match, Snippet


def _twin(cls: type) -> Any:
    """``cls`` as ``dataclass`` alone builds it (its own generated ``__init__``)."""
    fields = [
        (f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))
        for f in dataclasses.fields(cls)
    ]
    namespace = {"__post_init__": cls.__post_init__} if hasattr(cls, "__post_init__") else {}
    return dataclasses.make_dataclass(
        cls.__name__, fields, frozen=True, slots=True, namespace=namespace
    )


def _values(obj: object) -> list[object]:
    return [getattr(obj, f.name) for f in dataclasses.fields(obj)]  # type: ignore[arg-type]


_HIT = Hit(term="AI Act", text="AI Act", field="title", start=0, end=6)
_CALLS: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = [
    (Article, (), {"feed_id": "f", "key": "k", "title": "t"}),
    (Article, ("f", "k", "t", "https://x.eu/a"), {"summary": "s", "body": "b"}),
    (Snippet, ("x",), {}),
    (Snippet, (), {"text": "x", "marks": ((0, 1),)}),
    (Hit, (), {"term": "a", "text": "a", "field": "title", "start": 0, "end": 1}),
    (Hit, ("a", "a", "summary", 3, 4, Snippet("s"), "edpb", "pl: x"), {}),
    (Match, ("w", 1.0, (_HIT,)), {}),
    (Match, (), {"watchlist": "w", "score": 2.0, "hits": (_HIT, _HIT), "hit_count": 1}),
    (Match, ("w", 1.0, (_HIT,), 7, 0.3), {}),
]


@pytest.mark.parametrize(("cls", "args", "kwargs"), _CALLS)
def test_the_quick_init_builds_what_the_dataclass_init_builds(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    twin = _twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert _values(cls(*args, **kwargs)) == _values(twin(*args, **kwargs))


@pytest.mark.parametrize("cls", [Article, Snippet, Hit, Match])
def test_the_quick_init_keeps_values_frozen_and_arguments_checked(cls: type) -> None:
    obj = next(cls(*a, **k) for c, a, k in _CALLS if c is cls)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, dataclasses.fields(obj)[0].name, "changed")
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        cls(*args_of(cls), nonsense=1)
    assert dataclasses.replace(obj) == obj


def args_of(cls: type) -> tuple[Any, ...]:
    call = next((a, k) for c, a, k in _CALLS if c is cls)
    return tuple(call[0]) + tuple(call[1].values())
