"""The program that runs inside the jail: standard library only, Python 3.11 (the jail's ``/usr/bin/python3``).

One package, shipped into every worker as ``codegym_jail`` (``boot.py`` installs it from the
``init`` request; ``.importlinter`` and ``tests/runtime/test_jail_package.py`` keep it standard
library only):

- ``values``, ``inference``: the value codec (wire, plain and python forms; type schemas);
- ``observation``: the partial observation rules (``observe`` and the ``read_<p>`` windows);
- ``tool_rules``: the rules of a tool call (arguments, binding, results, answers, score),
  the one definition that live episodes (``runtime/_episode.py``) and verification
  (``oracle``) both run;
- ``boot``, ``worker``, ``process``: the worker's start, its request loop and its plumbing;
- the harnesses: ``record`` (runs a dataset's tests to record instances) with ``runner``,
  ``pytest_standin`` (importable as ``pytest`` while tests run), ``book``, ``recorders`` and
  ``state``; ``oracle`` (replays the oracle through the tools, as verification).

The host imports the same modules as ``codegym_mcp.runtime.jail``; the codec and observation
names are re-exported by ``codegym_mcp.runtime``.
"""
