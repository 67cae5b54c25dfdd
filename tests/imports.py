"""What a module imports, read from its source: for tests that keep pure modules pure."""

import ast
from pathlib import Path
from types import ModuleType


def top_level_imports(module: ModuleType) -> set[str]:
    """The top-level package of every import statement in ``module``'s source."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported
