"""``check_gym``: the contract every generated gym must pass (as Gymnasium's ``check_env``).

Checked, in order (later checks need the earlier ones):

1. manifest.json validates as a GymManifest; the files it names exist; tools.py matches its sha256.
2. instances.jsonl: ``n_instances`` valid Instance lines, unique ids, each id the hash of its input.
3. tools: unique names, one observe and one submit, every problem tool's function defined in
   tools.py with exactly the params of its ToolSpec in order (read with ``ast``, never run on the
   host), agent params typed and matching the tool's input schema, hidden params naming a field
   of the hidden input.
4. tools.py and oracle.py import in the sandbox, and the oracle reproduces every instance's
   expected output and its recorded trace through the MCP path (:func:`verify_gym`).
5. the step budget covers the longest oracle run.
6. honesty (issue 11.5; ``honesty=False`` skips it): names and descriptions say what the code does,
   no truncation marks or numeric suffixes, the statement is a goal without code framing or a
   dangling header, and no text leaks an instance or a solution line (``_audit_honesty``).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from pydantic import ValidationError

from ...schemas import GymManifest, Instance, ToolSpec
from ..verification._verify import Candidate, SyncWorker, Verification, instance_id_for, verify_gym
from ._audit_gym import GymUnreadable, read_gym
from ._audit_honesty import gym_honesty

__all__ = ["check_gym", "honesty_problems"]


def _functions(source: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            out[node.name] = [p.arg for p in (*a.posonlyargs, *a.args)]
    return out


def _check_tools(manifest: GymManifest, tools_source: str) -> list[str]:
    found: list[str] = []
    names = [t.name for t in manifest.tools]
    if len(set(names)) != len(names):
        found.append(f"tool names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
    for kind in ("observe", "submit"):
        if sum(t.kind == kind for t in manifest.tools) != 1:
            found.append(f"the manifest must list exactly one {kind} tool")
    try:
        functions = _functions(tools_source)
    except SyntaxError as exc:
        return [*found, f"tools.py does not parse: {exc}"]
    hidden_fields = manifest.input_schema.get("properties")
    hidden = set(hidden_fields) if isinstance(hidden_fields, dict) else set()
    for tool in manifest.tools:
        if tool.function is None:
            continue
        found.extend(_check_tool(tool, functions, hidden))
    return found


def _check_tool(tool: ToolSpec, functions: dict[str, list[str]], hidden: set[str]) -> list[str]:
    found: list[str] = []
    params = functions.get(tool.function or "")
    if params is None:
        return [f"tool {tool.name}: function {tool.function} is not defined at the top of tools.py"]
    if params != [p.name for p in tool.params]:
        found.append(
            f"tool {tool.name}: ToolSpec params {[p.name for p in tool.params]} != signature {params}"
        )
    props = tool.input_schema.get("properties")
    props = props if isinstance(props, dict) else {}
    agent = [p for p in tool.params if p.source == "agent"]
    if sorted(props) != sorted(p.name for p in agent):
        found.append(f"tool {tool.name}: input schema properties {sorted(props)} != agent params")
    for p in agent:
        if props.get(p.name) != p.type_schema:
            found.append(f"tool {tool.name}: param {p.name} type schema differs from the input schema's")
    for p in tool.params:
        if p.source == "hidden" and p.hidden_key not in hidden:
            found.append(
                f"tool {tool.name}: hidden param {p.name} names {p.hidden_key!r}, not an input field"
            )
    if tool.stateful != any(p.source == "state" for p in tool.params):
        found.append(f"tool {tool.name}: stateful={tool.stateful} but its params say otherwise")
    return found


def _read_instances(path: Path, manifest: GymManifest) -> tuple[list[Instance], list[str]]:
    found: list[str] = []
    instances: list[Instance] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            inst = Instance.model_validate_json(line)
        except ValidationError as exc:
            found.append(f"instances line {n}: not an Instance ({exc.errors()[0]['msg']})")
            continue
        if inst.instance_id != instance_id_for(inst.input):
            found.append(f"instance {inst.instance_id}: id is not the hash of its input")
        instances.append(inst)
    if len(instances) != manifest.n_instances:
        found.append(f"manifest says {manifest.n_instances} instances, the file holds {len(instances)}")
    ids = [i.instance_id for i in instances]
    if len(set(ids)) != len(ids):
        found.append("instance ids repeat")
    return instances, found


def _compare(verified: Verification, instances: list[Instance]) -> list[str]:
    found: list[str] = []
    for got, want in zip(verified.instances, instances, strict=True):
        if got.oracle_steps != want.oracle_steps or got.oracle_trace != want.oracle_trace:
            found.append(f"instance {want.instance_id}: the oracle's trace differs from the recorded one")
    return found


def honesty_problems(gym_dir: Path) -> list[str]:
    """The honesty findings of one gym folder as messages naming the gym, the tool and the text.

    A gym whose files cannot be read has no honesty finding (the contract reports why).
    """
    try:
        gym = read_gym(gym_dir)
    except GymUnreadable:
        return []
    return [f"honesty [{f.check}] {f.message}" for f in gym_honesty(gym)]


def check_gym(gym_dir: Path, worker: SyncWorker, *, timeout: float = 10.0, honesty: bool = True) -> list[str]:
    """Check one gym folder against the contract; returns what is wrong (empty = a good gym).

    Untrusted code (tools.py, oracle.py) runs only in ``worker``; the honesty checks read files only.
    """
    found = _check_contract(gym_dir, worker, timeout=timeout)
    return found + honesty_problems(gym_dir) if honesty else found


def _check_contract(gym_dir: Path, worker: SyncWorker, *, timeout: float) -> list[str]:
    manifest_path = gym_dir / "manifest.json"
    if not manifest_path.is_file():
        return [f"{manifest_path} is missing"]
    try:
        manifest = GymManifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        return [f"manifest.json is not a GymManifest: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"]
    if manifest.task_id != gym_dir.name:
        return [f"manifest task_id {manifest.task_id!r} differs from the folder name {gym_dir.name!r}"]
    missing = [
        name
        for name in (manifest.tools_module, manifest.instances_file, manifest.oracle.module)
        if not (gym_dir / name).is_file()
    ]
    if missing:
        return [f"files named by the manifest are missing: {missing}"]
    tools_source = (gym_dir / manifest.tools_module).read_text(encoding="utf-8")
    found: list[str] = []
    if hashlib.sha256(tools_source.encode("utf-8")).hexdigest() != manifest.tools_sha256:
        found.append("tools.py does not match the manifest's tools_sha256")
    instances, problems = _read_instances(gym_dir / manifest.instances_file, manifest)
    found.extend(problems)
    found.extend(_check_tools(manifest, tools_source))
    if instances and manifest.step_budget < max(i.oracle_steps for i in instances):
        found.append(f"step budget {manifest.step_budget} is below the longest oracle run")
    if found:
        return found
    result = verify_gym(
        worker=worker,
        tools_source=tools_source,
        oracle_source=(gym_dir / manifest.oracle.module).read_text(encoding="utf-8"),
        tools=list(manifest.tools),
        candidates=[
            Candidate(input=i.input, expected=i.expected, origin=i.origin, tier=i.tier) for i in instances
        ],
        input_schema=manifest.input_schema,
        output_schema=manifest.output_schema,
        timeout=timeout,
        drop_augmented=False,
        observation=manifest.observation,
    )
    if not isinstance(result, Verification):
        return [f"the oracle does not reproduce the outputs: {result.reason}"]
    if [t.model_dump() for t in result.tools] != [t.model_dump() for t in manifest.tools]:
        found.append("the manifest's tool schemas are incomplete (verification had to infer some)")
    found.extend(_compare(result, instances))
    return found
