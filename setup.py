"""The optional compiled part of the matcher (monitor/_speedups.pyx).

Everything else is in pyproject.toml.  Cython is a build requirement there; if the
extension cannot be built (no C compiler, no Python headers), the install goes on without
it and the matcher uses its pure-Python path (monitor/speedups.py).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing: the extension only makes it faster.

    (``Extension(optional=True)`` is not enough: an editable install still fails.)
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # any build failure: no extension
            self.warn(f"monitor._speedups not built, the pure-Python path will run: {error}")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # any build failure: no extension
            self.warn(f"{ext.name} not built, the pure-Python path will run: {error}")

    def get_outputs(self) -> list[str]:
        # Only what was built: an editable install links the outputs it is told about.
        import os

        return [path for path in super().get_outputs() if os.path.exists(path)]


try:
    from Cython.Build import cythonize
except ImportError:  # only when built outside pyproject's build requirements
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("monitor._speedups", ["monitor/_speedups.pyx"], optional=True)],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
