"""The atoms of a compiled matcher, packed: the inflected forms are rows of arrays.

The default keywords.yaml compiles to about 25,000 atoms, nearly all of them inflected
forms of some 2,000 written terms (issue 14).  As objects, each form cost an ``Atom``, a
``Term``, its key and its label string: about 300 bytes, 8 MB in all, and more in the
gaps the compile left between them (issue 12).  A form differs from the atom of its
written term only by its key and the language it inflects in, so it is stored as three
numbers (that atom's id, the language, where the key lies in one joined string) and
made into an ``Atom`` only when it is looked at: when a hit is checked or reported.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import overload

from monitor.match.automaton import Atom
from monitor.match.terms import Term


class AtomTable(Sequence[Atom]):
    """Atom id -> ``Atom``: written atoms as objects, inflected forms packed.

    Build with :meth:`add` and :meth:`add_forms`, then :meth:`seal`; the ids are given
    in the order the atoms are added, from 0.
    """

    __slots__ = ("_bases", "_forms", "_ids", "_joined", "_keys", "_languages", "_names", "_slots")

    def __init__(self) -> None:
        self._slots = array("i")
        """Per atom id: ``-1 - n`` for the n-th written atom, else its row of forms."""
        self._bases = array("I")
        """Per form row: the id of the written atom it inflects."""
        self._languages = array("B")
        """Per form row: its language's number in ``_names``."""
        self._keys = array("I", [0])
        """Per form row n: its key is ``_joined[_keys[n]:_keys[n + 1]]`` (UTF-8)."""
        self._joined: bytes | list[str] = []
        """While building, the keys; then their UTF-8 joined: one byte for most letters,
        where one string would take two or four for all of them after its first Greek,
        Bulgarian or Polish letter."""
        self._forms: list[Atom] = []
        """The written atoms, as objects."""
        self._names: list[str] = []
        """The languages the forms inflect in (``pl``, ``de``)."""
        self._ids: dict[Atom | tuple[int, str], int | tuple[int, int]] | None = {}
        """While building: written atom -> id, (atom id, language) -> its forms' ids."""

    # -- building -------------------------------------------------------------------------

    def add(self, atom: Atom) -> tuple[int, bool]:
        """The id of ``atom`` (a written term's), and whether it is new."""
        ids = self._building()
        found = ids.get(atom)
        if isinstance(found, int):
            return found, False
        atom_id = ids[atom] = len(self._slots)
        self._slots.append(-1 - len(self._forms))
        self._forms.append(atom)
        return atom_id, True

    def add_forms(self, base: int, language: str, keys: Sequence[str]) -> range:
        """The ids of the forms ``keys`` of written atom ``base`` in ``language``.

        The same atom and language give the same ids again (their forms are the same).
        """
        ids = self._building()
        found = ids.get((base, language))
        if isinstance(found, tuple):
            return range(*found)
        first = len(self._slots)
        code = self._language(language)
        joined = self._joined
        assert isinstance(joined, list)
        for key in keys:
            self._slots.append(len(self._bases))
            self._bases.append(base)
            self._languages.append(code)
            joined.append(key)
            self._keys.append(self._keys[-1] + len(key.encode("utf-8")))
        ids[(base, language)] = (first, len(self._slots))
        return range(first, len(self._slots))

    def seal(self) -> None:
        """Drop what only building needs and join the keys."""
        if isinstance(self._joined, list):
            self._joined = "".join(self._joined).encode("utf-8")
        self._ids = None

    def _building(self) -> dict[Atom | tuple[int, str], int | tuple[int, int]]:
        if self._ids is None:
            raise RuntimeError("atom table is sealed")
        return self._ids

    def _language(self, language: str) -> int:
        if language not in self._names:
            self._names.append(language)
        return self._names.index(language)

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slots)

    @overload
    def __getitem__(self, index: int) -> Atom: ...

    @overload
    def __getitem__(self, index: slice) -> list[Atom]: ...

    def __getitem__(self, index: int | slice) -> Atom | list[Atom]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        slot = self._slots[index]
        if slot < 0:
            return self._forms[-1 - slot]
        base = self._forms[-1 - self._slots[self._bases[slot]]]
        key = self.key(index)
        term = base.term
        form = Term(term.text, key, "", False, False, False, term.language, term.exact)
        language = self._names[self._languages[slot]]
        return Atom(form, base.actor, base.languages, f"{language}: {key}")

    def __iter__(self) -> Iterator[Atom]:
        for index in range(len(self._slots)):
            yield self[index]

    def key(self, index: int) -> str:
        """The folded key of atom ``index``."""
        slot = self._slots[index]
        if slot < 0:
            return self._forms[-1 - slot].term.key
        joined = self._joined
        if isinstance(joined, list):
            return joined[slot]
        return joined[self._keys[slot] : self._keys[slot + 1]].decode("utf-8")

    def is_form(self, index: int) -> bool:
        """Whether atom ``index`` is an inflected form (not a written term)."""
        return self._slots[index] >= 0
