from collections.abc import Callable, Collection
from types import NotImplementedType
from typing import Any, TypeVar

T = TypeVar("T")

VERSION: int

def install(offsets: bytes, lengths: bytes, blob: bytes) -> None: ...
def installed() -> bool: ...
def fold(text: str) -> bytes | None: ...

class Words:
    residual: list[int]
    def __init__(self, residual: list[int], prefix_lengths: int, tables: list[bytes]) -> None: ...

def scan(
    text: str,
    words: Words,
    find: Callable[[bytes, bool], list[tuple[int, int, int]]] | None,
    shapes: list[tuple[bool, bool] | None],
    breaks: int,
) -> (
    tuple[
        str,
        bytes | None,
        list[tuple[int, int, int]],
        dict[tuple[int, int], tuple[int, int]],
        tuple[int, ...],
    ]
    | NotImplementedType
    | None
): ...
def accept(
    raw: list[tuple[int, int, int]],
    starts: tuple[int, ...],
    plain: list[tuple[int, ...] | None],
    scan: Any,
    check: Callable[[Any, int, int, int, int], None],
    hits: list[tuple[int, int, int, int]],
) -> None: ...
def html_to_text(
    html: str, tag_text: dict[str, str], references: dict[str, str]
) -> str | NotImplementedType: ...
def snippet(
    text: str,
    start: int,
    end: int,
    marks: Collection[tuple[int, int]],
    context: int,
    make: Callable[[str, tuple[tuple[int, int], ...]], T],
    ellipsis: str,
    flatten: dict[int, str],
) -> T | NotImplementedType: ...

class Results:
    def __init__(
        self,
        hit_cls: type,
        hit_names: tuple[str, ...],
        snippet_cls: type,
        snippet_names: tuple[str, ...],
        match_cls: type,
        match_names: tuple[str, ...],
        context: int,
        ellipsis: str,
        flatten: dict[int, str],
    ) -> None: ...
    def hit(
        self,
        text: str,
        start: int,
        end: int,
        marks: Collection[tuple[int, int]],
        term: str,
        field: str,
        actor: str | None,
        form: str | None,
    ) -> Any: ...
    def match(
        self, watchlist: str, score: float, hits: tuple[Any, ...], hit_count: int, prominence: float
    ) -> Any: ...

def list_marks(text: str) -> int: ...
