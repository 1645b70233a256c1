"""The package's shape: subpackages by concept, no import cycle, not even one hidden inside a function."""

import ast
import graphlib
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "stretchnas"
# The only modules outside a subpackage: the package's entry points
TOP_LEVEL = {"__init__.py", "cli.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every stretchnas module `path` imports, at module level or inside a function alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "stretchnas")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "stretchnas":
            found.add(node.module)
            # `from package import module` imports that module too
            found.update(
                f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in known
            )
    return found & known


def import_graph() -> dict[str, set[str]]:
    """module -> the stretchnas modules it imports (a package's __init__ included)."""
    known = modules()
    return {name: imports(path, set(known)) - {name} for name, path in known.items()}


def test_no_import_cycle_even_through_function_level_imports():
    try:
        order = list(graphlib.TopologicalSorter(import_graph()).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
    assert len(order) == len(modules())


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    # the CLI imports the search runner inside its subcommand only
    assert "stretchnas.search.runner" in graph["stretchnas.cli"]
    assert "stretchnas.method.nb201.network" in graph["stretchnas.method.networks"]


def test_only_entry_points_sit_outside_the_subpackages():
    assert {path.name for path in PACKAGE.glob("*.py")} == TOP_LEVEL


def test_no_subpackage_init_imports_a_module():
    """Importing a light module (the workflow's plan, the settings) must not pull torch in through an __init__."""
    for init in PACKAGE.glob("*/**/__init__.py"):
        body = ast.parse(init.read_text()).body
        statements = [
            node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]
        heavy = [
            ast.unparse(node)
            for node in statements
            if isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.ImportFrom) and node.module == "stretchnas")
        ]
        assert not heavy, (init, heavy)


def test_the_readme_module_map_names_every_module_and_only_those():
    text = (PACKAGE.parents[1] / "README.md").read_text()
    table = text.split("<!-- module map: begin -->")[1].split("<!-- module map: end -->")[0]
    named = set()
    for row in [line for line in table.splitlines() if line.startswith("| `")]:
        package, modules_cell = row.split("|")[1:3]
        folder = re.match(r"\s*`(\w+)/`", package).group(1)
        named.update(f"{folder}/{name}" for name in re.findall(r"`([\w/]+\.(?:py|yaml))`", modules_cell))
    in_tree = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    in_tree |= {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.yaml")}
    in_tree -= TOP_LEVEL
    assert named == in_tree


def test_every_package_path_the_docs_name_exists():
    repo = PACKAGE.parents[1]
    for doc in [repo / "README.md", *repo.glob("docs/*.md"), repo / "benchmarks" / "README.md"]:
        for path in re.findall(r"src/stretchnas/[\w/]+\.(?:py|yaml)", doc.read_text()):
            assert (repo / path).exists(), (doc.name, path)
        for code in re.findall(r"^Code \(under `src/stretchnas/`\): (.*)$", doc.read_text(), flags=re.M):
            for path in re.findall(r"`([\w/]+\.py)`", code):
                assert (PACKAGE / path).exists(), (doc.name, path)
