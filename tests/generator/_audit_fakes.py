"""Hand-made gym folders for the audit tests: the files only (the audit never runs gym code)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from codegym_mcp.generator.instances._instances import instance_id_for
from codegym_mcp.schemas import (
    GymManifest,
    Instance,
    ObservationPolicy,
    OracleSummary,
    ParamSpec,
    Problem,
    ToolSpec,
    TraceCall,
)

INT: dict[str, JsonValue] = {"type": "integer"}
BOOL: dict[str, JsonValue] = {"type": "boolean"}
INTS: dict[str, JsonValue] = {"type": "array", "items": {"type": "integer"}}


def obj(props: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def generic(observe_output: dict[str, JsonValue], answer: dict[str, JsonValue]) -> list[ToolSpec]:
    return [
        ToolSpec(
            name="task", kind="task", description="The task.", input_schema=obj({}), output_schema=obj({})
        ),
        ToolSpec(
            name="observe",
            kind="observe",
            description="Show the hidden input.",
            input_schema=obj({}),
            output_schema=observe_output,
        ),
        ToolSpec(
            name="submit",
            kind="submit",
            description="Submit the answer.",
            input_schema=obj({"answer": answer}),
            output_schema=obj({"reward": INT}),
        ),
    ]


def tool(
    name: str,
    description: str,
    params: list[tuple[str, str]],
    *,
    function: str | None = None,
    kind: str = "segment",
) -> ToolSpec:
    """A problem tool; params are (name, "agent" | "hidden"), hidden ones bound to the same input field."""
    specs = [
        ParamSpec(name=n, source="agent", type_schema=INT)
        if s == "agent"
        else ParamSpec(name=n, source="hidden", hidden_key=n, type_schema=INTS)
        for n, s in params
    ]
    return ToolSpec(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        description=description,
        function=function or name,
        params=specs,
        input_schema=obj({n: INT for n, s in params if s == "agent"}),
        output_schema=obj({"result": INT}),
    )


def call(tool_name: str, result: JsonValue, **arguments: JsonValue) -> TraceCall:
    return TraceCall(tool=tool_name, arguments=arguments, result=result)


def instance(
    input: dict[str, JsonValue], expected: JsonValue, calls: list[TraceCall] | None = None
) -> Instance:
    """An instance whose trace is observe (the whole input), the given calls, then submit."""
    trace = [call("observe", dict(input)), *(calls or []), call("submit", {"reward": 1}, answer=expected)]
    return Instance(
        instance_id=instance_id_for(input),
        input=input,
        expected=expected,
        oracle_steps=len(trace),
        oracle_trace=trace,
    )


@dataclass
class FakeGym:
    """What a gym folder holds; :meth:`write` puts it on disk."""

    task_id: str = "Fake_0"
    task: str = "A list of integers is hidden. Submit the sum of its even numbers."
    tools_py: str = "def add(a, b):\n    return a + b\n"
    tools: list[ToolSpec] = field(
        default_factory=lambda: [tool("add", "Adds a and b.", [("a", "agent"), ("b", "agent")])]
    )
    instances: list[Instance] = field(default_factory=lambda: [instance({"nums": [1, 2, 3, 4]}, 6)])
    solution: str | None = "def f(nums):\n    return sum(x for x in nums if x % 2 == 0)\n"
    tests: str = "def check(candidate):\n    assert candidate([2]) == 2\n"
    observation: ObservationPolicy = "full"
    batch_size: int = 1
    answer_schema: dict[str, JsonValue] = field(default_factory=lambda: dict(INT))
    input_schema: dict[str, Any] = field(default_factory=lambda: obj({"nums": INTS}))

    def write(self, catalog: Path) -> Path:
        folder = catalog / self.task_id
        folder.mkdir(parents=True)
        (folder / "tools.py").write_text(self.tools_py, encoding="utf-8")
        (folder / "oracle.py").write_text("def oracle(tools):\n    return None\n", encoding="utf-8")
        lines = "".join(i.model_dump_json() + "\n" for i in self.instances)
        (folder / "instances.jsonl").write_text(lines, encoding="utf-8")
        steps = [i.oracle_steps for i in self.instances]
        manifest = GymManifest(
            task_id=self.task_id,
            problem_id=self.task_id.replace("_", "/"),
            source="fake",
            task=self.task,
            entry_point="f",
            input_schema=self.input_schema,
            output_schema=self.answer_schema,
            tools=[*generic(self.input_schema, self.answer_schema), *self.tools],
            tools_sha256=hashlib.sha256(self.tools_py.encode("utf-8")).hexdigest(),
            n_instances=len(self.instances),
            oracle=OracleSummary(
                steps_min=min(steps), steps_max=max(steps), steps_mean=sum(steps) / len(steps)
            ),
            step_budget=3 * max(steps),
            observation=self.observation,
            batch_size=self.batch_size,
        )
        (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        if self.solution is not None:
            problem = Problem(
                problem_id=manifest.problem_id,
                task_id=self.task_id,
                source="fake",
                question=self.task,
                solution=self.solution,
                tests=self.tests,
                test_style="humaneval",
                entry_point="f",
            )
            (folder / "problem.json").write_text(problem.model_dump_json(indent=2), encoding="utf-8")
        return folder
