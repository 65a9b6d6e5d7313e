"""The in-jail package (runtime/jail): standard library only, Python 3.11, loaded by its one loader."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegym_mcp.runtime import CallFailed, SandboxConfig, Worker, jail
from codegym_mcp.runtime._protocol import boot_source, encode_request, init_request, jail_package
from codegym_mcp.runtime.jail.boot import PACKAGE, SourceLoader

JAIL_PYTHON = Path("/usr/bin/python3")  # the interpreter inside the jail (SandboxConfig.python)


def _imports(source: str) -> list[tuple[int, str]]:
    """(level, module) of every import statement of ``source``, parsed with Python 3.11's grammar."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, feature_version=(3, 11))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_every_module_is_python_3_11_and_imports_only_the_standard_library_and_its_package() -> None:
    package = jail_package()
    assert {"__init__", "boot", "worker", "values", "tool_rules", "observation", "record", "oracle"} <= set(
        package
    )
    for name, source in package.items():
        for level, module in _imports(source):
            if level:
                assert level == 1 and (module == "" or module.split(".")[0] in package), (name, module)
            else:
                assert module.split(".")[0] in sys.stdlib_module_names | {"__future__"}, (name, module)


def test_every_module_loads_under_the_jails_python_through_the_boot_loader() -> None:
    if not JAIL_PYTHON.exists():
        pytest.skip(f"{JAIL_PYTHON} (the jail's interpreter) is missing: apt-get install python3")
    boot = boot_source()
    program = (
        boot.replace('if __name__ == "__main__":\n    main()\n', "")
        + "\nimport importlib, json\n"
        + "sources = json.loads(sys.stdin.read())\n"
        + "sys.meta_path.insert(0, SourceLoader(sources))\n"
        + "names = sorted(n for n in sources if n != '__init__')\n"
        + "loaded = [importlib.import_module(PACKAGE + '.' + n).__file__ for n in names]\n"
        + "print(json.dumps({'python': sys.version.split()[0], 'files': loaded}))\n"
    )
    assert 'if __name__ == "__main__":\n    main()\n' in boot  # the cut above took the start away
    out = subprocess.run(
        [str(JAIL_PYTHON), "-I", "-S", "-c", program],
        input=json.dumps(jail_package()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["python"].startswith("3.11"), reply["python"]
    names = sorted(n for n in jail_package() if n != "__init__")
    assert reply["files"] == [f"{PACKAGE}/{n}.py" for n in names]


def test_the_loader_serves_only_the_package_and_its_modules() -> None:
    loader = SourceLoader({"__init__": "", "values": "X = 1\n"})
    assert loader.find_spec(PACKAGE) is not None
    spec = loader.find_spec(f"{PACKAGE}.values")
    assert spec is not None and spec.origin == f"{PACKAGE}/values.py"
    assert loader.find_spec(f"{PACKAGE}.missing") is None
    assert loader.find_spec(f"{PACKAGE}.__init__") is None
    assert loader.find_spec("values") is None
    assert loader.find_spec(f"other.{PACKAGE}.values") is None
    with pytest.raises(ImportError, match="not a module of codegym_jail"):
        loader.get_source(f"{PACKAGE}.missing")


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker(SandboxConfig(isolation="nsjail")) as w:
        yield w


def test_a_call_imports_a_package_module_on_first_use_and_code_can_import_the_package(worker: Worker) -> None:
    assert (
        worker.call(f"{PACKAGE}.values", "canonical_json", args=[{"b": 1, "a": [1, 2]}])
        == '{"a":[1,2],"b":1}'
    )
    worker.load(
        "uses_codec", "from codegym_jail import values\n\ndef plain(x):\n    return values.to_plain(x)\n"
    )
    assert worker.call("uses_codec", "plain", args=[{"$tuple": [1, {"$set": [2]}]}]) == [1, [2]]


def test_a_traceback_from_package_code_names_its_file_and_shows_its_line(worker: Worker) -> None:
    with pytest.raises(CallFailed) as info:
        worker.call(f"{PACKAGE}.values", "coerce", args=["x", {"type": "integer"}])
    assert f'File "{PACKAGE}/values.py", line ' in info.value.traceback
    assert "raise CoercionError(" in info.value.traceback


def test_a_call_to_a_module_neither_loaded_nor_in_the_package_names_the_fix(worker: Worker) -> None:
    with pytest.raises(CallFailed, match="is not loaded in this worker: load it first"):
        worker.call("codegym_values", "encode", args=[1])
    with pytest.raises(CallFailed, match=r"No module named 'codegym_jail\.nothing'"):
        worker.call(f"{PACKAGE}.nothing", "f")


@pytest.mark.parametrize("isolation", ["nsjail", "none"])
def test_the_init_line_is_the_encoded_request_carrying_every_module(isolation: str) -> None:
    cfg = SandboxConfig(isolation=isolation)  # type: ignore[arg-type]
    request = {
        "op": "init",
        "package": jail_package(),
        "cpu_seconds": cfg.cpu_seconds,
        "max_output": cfg.max_output_bytes,
        "recursion_limit": cfg.recursion_limit,
        "rlimits": {"as_mb": cfg.address_space_mb if isolation == "none" else None},
    }
    assert init_request(cfg) == encode_request(request).tobytes()
    files = sorted(p.stem for p in Path(jail.__file__).parent.glob("*.py"))
    assert sorted(jail_package()) == files
