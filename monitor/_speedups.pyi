from collections.abc import Callable
from types import NotImplementedType

VERSION: int

def install(offsets: bytes, lengths: bytes, blob: bytes) -> None: ...
def installed() -> bool: ...
def fold(text: str) -> bytes | None: ...
def scan(
    text: str,
    find: Callable[[bytes, bool], list[tuple[int, int, int]]],
    shapes: list[tuple[bool, bool] | None],
    breaks: int,
) -> tuple[str, bytes | None, list[tuple[int, int, int]]] | NotImplementedType | None: ...
def html_to_text(
    html: str, tag_text: dict[str, str], references: dict[str, str]
) -> str | NotImplementedType: ...
