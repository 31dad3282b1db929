"""PyYAML, imported only as far as reading YAML with libyaml needs.

`import yaml` runs yaml/__init__.py, which imports all of PyYAML: its pure-Python reader, the
constructors, the emitter and representer with datetime and base64, and it compiles a dozen regular
expressions. That was 124 M of the 219 M instructions of a post-render run of a small chart
(valgrind; docs/performance.md). A run composes nodes with libyaml (yaml._yaml.CParser), resolves
their tags (yaml.resolver) and reads them (yaml.nodes); it constructs Python data only now and then.

So, when nothing has imported PyYAML yet, this module imports the `yaml` package without running its
__init__.py, and of its modules only those yaml._yaml reads when it starts (error, tokens, events,
nodes, reader) and yaml.resolver:
- yaml.scanner, parser, composer, constructor, emitter, serializer and representer are modules that
  run on first use (yaml._yaml asks each only for its error class); until
  then each holds only its error class, made as PyYAML makes it and kept when the module runs, so
  yaml._yaml and the module raise and catch the one class;
- the regular expressions of yaml.reader and yaml.resolver are compiled on first use;
- the first use of anything else of `yaml` (yaml.safe_load, yaml.CSafeLoader ...) runs
  yaml/__init__.py in the same module object: `import yaml` anywhere gets all of PyYAML, as always.
tests/test_pyyaml_import.py checks that PyYAML reads, writes and fails as it does when imported as usual.
Code on the post-render path reaches PyYAML through its modules (yaml.nodes, yaml.error ...), never
`yaml.<name>` of the package, which would import the rest (tests/test_startup.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from postrender.core.lazyre import CompiledOnFirstUse

try:  # module_from_spec from the import system's own module, loaded at Python's start: `import importlib`
    import _frozen_importlib as _bootstrap  # costs 1.6 M instructions, importlib.util 5 M more (contextlib)
except ImportError:  # pragma: no cover - a Python that does not freeze it
    from importlib import _bootstrap  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

# The modules yaml._yaml reads an error class from, and how PyYAML defines that class (name, base).
_ERROR_ONLY = {
    "scanner": ("ScannerError", "MarkedYAMLError"),
    "parser": ("ParserError", "MarkedYAMLError"),
    "composer": ("ComposerError", "MarkedYAMLError"),
    "constructor": ("ConstructorError", "MarkedYAMLError"),
    "emitter": ("EmitterError", "YAMLError"),
    "serializer": ("SerializerError", "YAMLError"),
    "representer": ("RepresenterError", "YAMLError"),
}
_IMPORTED = ("error", "tokens", "events", "nodes", "reader", "resolver")


def _find_spec(name: str, path: Sequence[str] | None = None) -> ModuleSpec:
    """What the import system would load for `name` (importlib.util.find_spec, without importing parents)."""
    for finder in sys.meta_path:
        spec = finder.find_spec(name, path, None) if hasattr(finder, "find_spec") else None
        if spec is not None and spec.loader is not None:
            return spec
    raise ImportError(f"no module named {name!r}", name=name)


def _import_parts() -> None:
    package_spec = _find_spec("yaml")
    package = _run_on_first_use(_bootstrap.module_from_spec(package_spec), {})
    sys.modules["yaml"] = package
    real_compile, re.compile = re.compile, CompiledOnFirstUse  # type: ignore[assignment]
    try:
        for name in _IMPORTED:
            __import__(f"yaml.{name}")
    finally:
        re.compile = real_compile
    error = sys.modules["yaml.error"]
    for name, (error_name, base) in _ERROR_ONLY.items():
        spec = _find_spec(f"yaml.{name}", package.__path__)
        made = type(error_name, (getattr(error, base),), {"__module__": spec.name, "__qualname__": error_name})
        module = _run_on_first_use(_bootstrap.module_from_spec(spec), {error_name: made})
        sys.modules[spec.name] = module
        setattr(package, name, module)
    __import__("yaml._yaml")


def _run_on_first_use(module: ModuleType, kept: dict[str, object]) -> ModuleType:
    """The module runs its code when something it does not hold yet is first asked of it, or its dir()
    (PEP 562); `kept` stays."""
    module.__dict__.update(kept)

    def run() -> None:
        del module.__dict__["__getattr__"], module.__dict__["__dir__"]
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(module)
        module.__dict__.update(kept)

    def getattr_(name: str) -> object:
        run()
        return getattr(module, name)

    def dir_() -> list[str]:
        run()
        return dir(module)

    hooks: dict[str, Callable[..., object]] = {"__getattr__": getattr_, "__dir__": dir_}
    module.__dict__.update(hooks)
    return module


if "yaml" not in sys.modules:
    try:
        _import_parts()
    except Exception:  # a PyYAML laid out otherwise, or without libyaml: imported as usual
        for _name in [name for name in sys.modules if name == "yaml" or name.startswith("yaml.")]:
            del sys.modules[_name]
        import yaml  # noqa: F401
