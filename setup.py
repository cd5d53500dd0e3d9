"""The optional compiled part of the matcher (monitor/_speedups.pyx).

Everything else is in pyproject.toml.  Cython is a build requirement there; if the
extension cannot be built (no C compiler), the install goes on without it and the
matcher uses its pure-Python path (monitor/speedups.py).
"""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # only when built outside pyproject's build requirements
    ext_modules = []
else:
    ext_modules = cythonize(
        [
            Extension(
                "monitor._speedups",
                ["monitor/_speedups.pyx"],
                optional=True,
            )
        ],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )

setup(ext_modules=ext_modules)
