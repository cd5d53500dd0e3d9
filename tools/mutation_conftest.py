"""The root conftest.py of a mutation run (tools/mutation.sh copies it there).

mutmut calls every function through a trampoline, so tests run several times slower:
a hypothesis deadline would fail unmutated code (the fold tables alone take seconds to
build).  Fixed examples and no example database make a module's score the same from
one run to the next.
"""

from hypothesis import settings

settings.register_profile("mutation", deadline=None, derandomize=True, database=None)
settings.load_profile("mutation")
