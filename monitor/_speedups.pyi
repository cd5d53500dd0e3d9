from collections.abc import Callable, Collection
from types import NotImplementedType
from typing import TypeVar

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
    tuple[str, bytes | None, list[tuple[int, int, int]], dict[tuple[int, int], tuple[int, int]]]
    | NotImplementedType
    | None
): ...
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
