"""Rules of the code base that a linter does not check: every public function of ``videossl`` has
type hints, and the engine's functions fit on a screen (docs/design.md, "Conventions")."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "videossl"
LONGEST_ENGINE_FUNCTION = 60


def functions(path, public_only):
    """(qualified name, node) of the functions of a module, methods of its public classes included."""

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef) and not (public_only and node.name.startswith("_")):
                yield from visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                private = node.name.startswith("_") and node.name != "__init__"
                if not (public_only and private):
                    yield f"{prefix}{node.name}", node

    yield from visit(ast.parse(path.read_text()).body, "")


def unannotated(node):
    """The parameters (and ``return``) of a function that have no annotation."""
    args = node.args
    params = [a for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    missing = [a.arg for a in params if a.annotation is None]
    if node.returns is None and node.name != "__init__":
        missing.append("return")
    return missing


def test_every_public_function_of_videossl_has_type_hints():
    missing = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name} ({', '.join(unannotated(node))})"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name, node in functions(path, public_only=True)
        if unannotated(node)
    ]
    assert not missing, "public functions without type hints:\n" + "\n".join(missing)


def test_the_rule_sees_a_missing_hint():
    tree = ast.parse("def f(x, y: int) -> int:\n    return y\n\ndef g(z: int):\n    return z\n")
    assert [unannotated(node) for node in tree.body] == [["x"], ["return"]]


def test_no_engine_function_is_longer_than_a_screen():
    long = [
        f"{path.name}:{node.lineno} {name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted((PACKAGE / "engine").glob("*.py"))
        for name, node in functions(path, public_only=False)
        if node.end_lineno - node.lineno + 1 > LONGEST_ENGINE_FUNCTION
    ]
    assert not long, "functions over 60 lines in videossl/engine:\n" + "\n".join(long)
