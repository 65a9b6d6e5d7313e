"""Node numbers: tree and linked-list references walk numbered nodes through accessor tools."""

from __future__ import annotations

from typing import Any

from codegym_mcp.generator.carving._carve import carve_function_problem
from codegym_mcp.generator.carving._carving_types import Carving
from codegym_mcp.generator.instances._adapters import adapt_problem
from codegym_mcp.generator.instances._handles import handle_problem
from codegym_mcp.schemas import Problem

from ..carving.test_carve import _reference, _run

NODE = """
class BinaryTreeNode:
    def __init__(self, data):
        self.data = data
        self.left_child = None
        self.right_child = None
"""

# shaped like KodCode's enhanced_inorder_traversal: an iterative walk with a stack of nodes
INORDER = (
    NODE
    + """
def inorder(root):
    if not root:
        return []
    stack, result = [], []
    current = root
    while stack or current:
        while current:
            stack.append(current)
            current = current.left_child
        current = stack.pop()
        result.append(current.data)
        current = current.right_child
    return result
"""
)

# shaped like find_in_bst: the entry recurses on a child with the other argument passed on
FIND = (
    NODE
    + """
def find(root, target):
    if root is None:
        return False
    if root.data == target:
        return True
    elif root.data < target:
        return find(root.right_child, target)
    return find(root.left_child, target)
"""
)

# shaped like kth_smallest: a nested recursive walk
KTH = (
    NODE
    + """
def kth(root, k):
    def walk(node):
        return walk(node.left_child) + [node.data] + walk(node.right_child) if node else []
    return walk(root)[k - 1]
"""
)

INSERT = (
    NODE
    + """
def insert(root, data):
    if root is None:
        return 0
    root.left_child = None
    return data
"""
)

SHAPE = {"kind": "tree", "cls": "BinaryTreeNode", "val": "data", "left": "left_child", "right": "right_child"}
BST = [8, 3, 10, 1, 6, None, 14, None, None, 4, 7, 13]


def _problem(solution: str, entry: str) -> Problem:
    return Problem(
        problem_id="T/1",
        task_id="T_1",
        source="test",
        question="q",
        solution=solution,
        tests="",
        test_style="pytest",
        entry_point=entry,
    )


def _numbered(solution: str, entry: str, params: list[str]) -> Carving:
    kinds = [(p, "POSITIONAL_OR_KEYWORD") for p in params]
    numbered = handle_problem(_problem(solution, entry), entry, kinds, {"root": SHAPE})
    assert isinstance(numbered, Problem), numbered
    carving = carve_function_problem(numbered, entry_params=params)
    assert isinstance(carving, Carving), carving
    return carving


def _adapted(solution: str, entry: str, inputs: dict[str, Any]) -> Any:
    kinds = [(p, "POSITIONAL_OR_KEYWORD") for p in inputs]
    adapted = adapt_problem(_problem(solution, entry), entry, kinds, {"root": SHAPE})
    assert isinstance(adapted, Problem) and adapted.entry_point is not None
    return _reference(adapted.solution, adapted.entry_point, inputs)


def _accessors(carving: Carving) -> dict[str, list[tuple[str, str, str | None]]]:
    return {t.name: [(p.name, p.source, p.hidden_key) for p in t.params] for t in carving.tools}


def test_an_iterative_tree_walk_reads_each_node_through_an_accessor_tool() -> None:
    carving = _numbered(INORDER, "inorder", ["root"])
    tools = _accessors(carving)
    assert tools == {
        "root_of": [("root", "hidden", "root")],
        "left_child_of": [("root", "hidden", "root"), ("node", "agent", None)],
        "data_of": [("root", "hidden", "root"), ("node", "agent", None)],
        "right_child_of": [("root", "hidden", "root"), ("node", "agent", None)],
    }
    for tree in (BST, [], [5], [1, None, 2, None, 3]):
        answer, calls = _run(carving, {"root": tree})
        assert answer == _adapted(INORDER, "inorder", {"root": tree})
        assert calls.count("data_of") == sum(v is not None for v in tree)


def test_a_recursive_entry_keeps_the_tree_hidden_in_every_frame() -> None:
    carving = _numbered(FIND, "find", ["root", "target"])
    assert all(p.source == "hidden" for t in carving.tools for p in t.params if p.name == "root")
    for target in (7, 13, 5, 8):
        inputs = {"root": BST, "target": target}
        answer, calls = _run(carving, inputs)
        assert answer == _adapted(FIND, "find", inputs)
        assert calls[:2] == ["observe", "root_of"] and calls.count("root_of") == 1  # the top frame only


def test_a_nested_recursive_walk_stays_plan_code_that_calls_the_accessors() -> None:
    carving = _numbered(KTH, "kth", ["root", "k"])
    assert "walk" not in _accessors(carving)  # not one tool doing the whole walk
    for k in (1, 4, 9):
        inputs = {"root": BST, "k": k}
        answer, calls = _run(carving, inputs)
        assert answer == _adapted(KTH, "kth", inputs)
        assert calls.count("data_of") == 9


def test_a_reference_that_changes_the_nodes_keeps_the_adapter() -> None:
    kinds = [("root", "POSITIONAL_OR_KEYWORD"), ("data", "POSITIONAL_OR_KEYWORD")]
    why = handle_problem(_problem(INSERT, "insert"), "insert", kinds, {"root": SHAPE})
    assert why == "insert assigns node attribute 'left_child'"
