"""A worker's first code: make the in-jail package importable, then hand over to its worker loop.

Standard library only, Python 3.11. The host starts ``python3 -I -S -c <this source>``
(``runtime/_process.py``) and writes the ``init`` request as the first line on the worker's
stdin; that request carries ``package``: every module of this package (``runtime/jail/``) as
``{module name: source}``. :class:`SourceLoader` (the one loader of in-jail code) serves them as
the package ``codegym_jail``, imported normally: plain relative imports, ``__file__`` of
``codegym_jail/<module>.py``, source lines in tracebacks. Nothing is written to disk and no host
path is bound into the jail, so the jailed and the unisolated worker load the same way.

Then ``codegym_jail.worker.main`` answers ``init`` and serves the rest of the protocol. The
harnesses are imported on first use (a ``call`` naming ``codegym_jail.<module>``).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # importlib.abc costs a worker ~20 ms to import: typing only
    from importlib.abc import Loader

__all__ = ["PACKAGE", "SourceLoader", "main"]

PACKAGE = "codegym_jail"
"""The name the in-jail package is imported under inside a worker."""


class SourceLoader:
    """A meta path finder and loader of ``codegym_jail`` and its modules from their sources."""

    def __init__(self, sources: dict[str, str], package: str = PACKAGE) -> None:
        self.sources = sources
        self.package = package

    def _module(self, fullname: str) -> str | None:
        """The module name within the package (``__init__`` for the package itself), or None."""
        if fullname == self.package:
            return "__init__"
        head, _, tail = fullname.rpartition(".")
        if head == self.package and tail != "__init__" and tail in self.sources:
            return tail
        return None

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        """The spec of ``fullname`` when it is the package or one of its modules, else None."""
        module = self._module(fullname)
        if module is None or module not in self.sources:
            return None
        spec = ModuleSpec(
            fullname,
            cast("Loader", self),
            origin=f"{self.package}/{module}.py",
            is_package=module == "__init__",
        )
        spec.has_location = True  # __file__ = origin: tracebacks name the module's file
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        """Default module creation."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Run the module's source in its namespace."""
        spec = module.__spec__
        assert spec is not None and spec.origin is not None
        exec(
            compile(self.get_source(module.__name__), spec.origin, "exec", dont_inherit=True), module.__dict__
        )

    def get_source(self, fullname: str) -> str:
        """The source of ``fullname`` (linecache reads it for tracebacks).

        Raises:
            ImportError: ``fullname`` is not a module of the package.
        """
        module = self._module(fullname)
        if module is None or module not in self.sources:
            raise ImportError(f"{fullname!r} is not a module of {self.package}", name=fullname)
        return self.sources[module]

    def is_package(self, fullname: str) -> bool:
        """Whether ``fullname`` is the package itself."""
        return fullname == self.package


def main() -> None:
    """Read ``init``, install the package from it, run the worker loop (which answers ``init``)."""
    requests = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
    first = json.loads(requests.readline())
    sys.meta_path.insert(0, SourceLoader(first.pop("package")))
    worker: Any = __import__(PACKAGE + ".worker", fromlist=["main"])
    worker.main(requests, first)


if __name__ == "__main__":
    main()
