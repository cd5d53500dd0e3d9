"""The packed atom table (issue 12): inflected forms are rows of arrays, made into
``Atom`` objects only when looked at, and must read back as the objects they stand for."""

from __future__ import annotations

import pytest

from monitor.config.keywords import load_keywords
from monitor.match import compile_matcher
from monitor.match.atoms import AtomTable
from monitor.match.automaton import Atom
from monitor.match.inflect import Inflector
from monitor.match.terms import Term, parse_term
from tests.match.helpers import DEFAULT_KEYWORDS


def form(of: Atom, language: str, key: str) -> Atom:
    """An inflected form's atom as the matcher built it before the table packed it."""
    term = of.term
    written = Term(term.text, key, "", False, False, False, term.language, term.exact)
    return Atom(written, of.actor, of.languages, f"{language}: {key}")


def test_forms_read_back_as_the_atoms_they_stand_for() -> None:
    table = AtomTable()
    face = Atom(parse_term("rozpoznawanie twarzy"), "uodo", frozenset({"pl"}))
    greek = Atom(parse_term("αναγνώριση προσώπου"))
    assert table.add(face) == (0, True)
    polish = table.add_forms(0, "pl", ["rozpoznawaniem twarzy", "rozpoznawania twarzy"])
    assert table.add(greek) == (3, True)
    greek_forms = table.add_forms(3, "el", ["αναγνωρισης προσωπου"])
    assert table.add(face) == (0, False)
    assert table.add_forms(0, "pl", ["ignored: the same atom and language"]) == polish
    czech = table.add_forms(0, "cs", ["rozpoznawaniem twarzy"])  # same key, other language
    table.seal()
    expected = [
        face,
        form(face, "pl", "rozpoznawaniem twarzy"),
        form(face, "pl", "rozpoznawania twarzy"),
        greek,
        form(greek, "el", "αναγνωρισης προσωπου"),
        form(face, "cs", "rozpoznawaniem twarzy"),
    ]
    assert (list(polish), list(greek_forms), list(czech)) == ([1, 2], [4], [5])
    assert list(table) == expected
    assert table[1:3] == expected[1:3]
    assert [table.key(i) for i in range(len(table))] == [a.term.key for a in expected]
    assert [table.is_form(i) for i in range(len(table))] == [a.form is not None for a in expected]
    with pytest.raises(RuntimeError):
        table.add(greek)


def test_the_default_keywords_compile_to_distinct_atoms() -> None:
    """The table keeps the old compile's rule: one id per distinct atom, its key the
    automaton's; nearly all of them packed forms."""
    m = compile_matcher(load_keywords(str(DEFAULT_KEYWORDS)), Inflector(compute=False))
    table = m._scanner.atoms
    assert isinstance(table, AtomTable)
    atoms = list(table)
    assert len(set(atoms)) == len(atoms) > 20_000
    assert all(table.key(i) == a.term.key for i, a in enumerate(atoms))
    forms = [a for i, a in enumerate(atoms) if table.is_form(i)]
    assert len(forms) > 0.9 * len(atoms)
    assert all(a.form == f"{a.form.split(':')[0]}: {a.term.key}" for a in forms if a.form)
