"""core/_pyyaml.py: PyYAML imported as far as reading with libyaml needs, and the rest of it unchanged.

Each check runs in a fresh interpreter: what matters is what the first import of postrender.core
leaves in sys.modules, and what `import yaml` gives afterwards, compared with an interpreter that
imported PyYAML as usual.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


PARTS_ONLY = """
import sys
assert "yaml" not in sys.modules
import postrender.core.yamlnodes as yamlnodes
node = yamlnodes.compose("a: [1, true, {b: ~}]\\nkey: 100m\\n")
assert node.value[0][1].value[1].tag == "tag:yaml.org,2002:bool"
yaml = sys.modules["yaml"]
ran = [name for name in ("yaml", "yaml.scanner", "yaml.parser", "yaml.composer", "yaml.constructor", "yaml.emitter",
                         "yaml.serializer", "yaml.representer") if "__getattr__" not in vars(sys.modules[name])]
print(ran, "datetime" in sys.modules, "base64" in sys.modules)
"""


def test_composing_runs_only_the_modules_libyaml_needs():
    assert run(PARTS_ONLY).split() == ["[]", "False", "False"]


# Everything `import yaml` offers, and how it reads, writes and fails: the same whichever way it was imported.
SURFACE = """
import json, sys
if sys.argv[1] == "partial":
    import postrender.core
import yaml

def names(module):
    return sorted(name for name in dir(module) if not name.startswith("__") or name in ("__all__", "__version__"))

def error_class(cls):
    return [cls.__name__, cls.__module__, cls.__qualname__, [base.__name__ for base in cls.__mro__],
            sorted(vars(cls)), cls.__doc__]

surface = {"yaml": names(yaml)}
for name in ("error", "tokens", "events", "nodes", "reader", "scanner", "parser", "composer", "constructor", "resolver",
             "emitter", "serializer", "representer", "loader", "dumper", "cyaml"):
    surface[name] = names(getattr(yaml, name))
errors = {}
for name in ("ReaderError", "ScannerError", "ParserError", "ComposerError", "ConstructorError", "EmitterError",
             "SerializerError", "RepresenterError"):
    cls = getattr(yaml._yaml, name)
    module = getattr(yaml, cls.__module__.rpartition(".")[2])
    assert getattr(module, name) is cls, name  # one class, raised and caught
    errors[name] = error_class(cls)
surface["errors"] = errors

def outcome(call):
    try:
        return repr(call())
    except yaml.YAMLError as error:
        return type(error).__module__ + "." + type(error).__name__ + ": " + str(error)

surface["behaviour"] = [
    outcome(lambda: yaml.safe_load("a: 1\\nb: 2001-12-14\\nc: !!binary aGk=\\nd: [1.5, 0x1F, 0o7, ~, yes]")),
    outcome(lambda: yaml.load("a: 1\\nb: [x, y]", Loader=yaml.CSafeLoader)),
    outcome(lambda: yaml.safe_load("a: [")),
    outcome(lambda: yaml.load("a: [", Loader=yaml.CSafeLoader)),
    outcome(lambda: yaml.load("x: !!python/name:os.system ''", Loader=yaml.CSafeLoader)),
    outcome(lambda: yaml.safe_load("a: b\\x07")),
    outcome(lambda: yaml.load("a: b\\x07", Loader=yaml.CSafeLoader)),
    outcome(lambda: yaml.safe_dump({"a": [1, "2", None], "b": {"c": 1.5}})),
    outcome(lambda: yaml.dump({"a": [1, "x"]}, Dumper=yaml.CSafeDumper)),
    outcome(lambda: yaml.safe_dump(print)),
    outcome(lambda: yaml.emit([yaml.ScalarEvent(None, None, (True, True), "x")])),
    outcome(lambda: yaml.emit([yaml.StreamStartEvent(), yaml.ScalarEvent(None, None, (True, True), "x")], Dumper=yaml.CDumper)),
]
print(json.dumps(surface, sort_keys=True, default=str))
"""


def test_import_yaml_after_it_gives_all_of_pyyaml_as_usual():
    as_usual, after_parts = (json.loads(run(SURFACE.replace("sys.argv[1]", repr(mode)))) for mode in ("usual", "partial"))
    assert after_parts == as_usual


@pytest.mark.parametrize("first", ["import yaml", "import yaml.constructor", "from yaml.constructor import SafeConstructor",
                                   "import yaml.emitter as emitter; emitter.Emitter"])
def test_any_first_use_of_the_rest_completes_it(first):
    run(f"""
import postrender.core, sys
{first}
import yaml
assert yaml.safe_load("a: [1, 2]") == {{"a": [1, 2]}}
assert isinstance(yaml.constructor.SafeConstructor(), yaml.constructor.BaseConstructor)
""")


READER_PATTERN = """
import re, sys
import postrender.core
import yaml
from postrender.core.lazyre import CompiledOnFirstUse

# The costly pattern was not compiled at import; the pure-Python reader still refuses what it refused.
assert isinstance(yaml.reader.Reader.NON_PRINTABLE, CompiledOnFirstUse)
try:
    yaml.load("a: b\\x07", Loader=yaml.SafeLoader)
except yaml.reader.ReaderError as error:
    assert (error.character, error.position) == (7, 4), error
else:
    raise AssertionError("a non-printable character was accepted")
# Anyone else compiling a pattern gets the real thing.
assert isinstance(re.compile(yaml.reader.Reader.NON_PRINTABLE.pattern), re.Pattern)
"""


def test_pyyaml_is_imported_without_its_reader_pattern_and_reads_as_before():
    run(READER_PATTERN)


def test_a_pyyaml_imported_before_is_used_as_it_is():
    assert run("import yaml, postrender.core.yamlnodes as n, sys; print('__getattr__' in vars(sys.modules['yaml']), "
               "n.compose('a: 1').value[0][1].tag)").split() == ["False", "tag:yaml.org,2002:int"]
