"""`sidecar-policy argocd install`: write the kustomize Component that adds the plugin sidecar.

The files come from jinja2 templates in postrender/templates/argocd-*.j2, rendered in a sandbox
with strict undefined variables. Autoescaping is off (it is HTML escaping, wrong for YAML);
instead every user value goes through `yaml_string`, which emits a double-quoted YAML scalar.
The checked-in argocd-plugin/ directory is this command's output for the default image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from postrender import __version__
from postrender.core.errors import UsageError

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_IMAGE = f"sidecar-policy:{__version__}"
# name[:tag][@digest], as a container runtime accepts it; no spaces, quotes or newlines.
_IMAGE_REFERENCE = re.compile(r"^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


def yaml_string(value: object) -> str:
    """A YAML double-quoted scalar: JSON string syntax is a subset of it, so any text stays one value."""
    return json.dumps(str(value), ensure_ascii=False)


def render_install(image: str, default_policy: str | None = None) -> dict[str, str]:
    """File name -> content of the Component for `image`, with the default policy file if given."""
    if not _IMAGE_REFERENCE.match(image):
        raise UsageError(f"--image {image!r} is not an image reference like registry.example/sidecar-policy:0.1.0")
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["yaml_string"] = yaml_string
    context = {"image": image, "default_policy": default_policy is not None}
    files = {
        name: environment.get_template(f"argocd-{name}.j2").render(context)
        for name in ("kustomization.yaml", "plugin.yaml", "repo-server-patch.yaml")
    }
    if default_policy is not None:
        files["default-policy.yaml"] = default_policy
    return files


def write_install(output_dir: Path, image: str, default_policy_file: str | None) -> list[Path]:
    default_policy = None
    if default_policy_file is not None:
        from postrender.core.policy import load_policy

        load_policy(default_policy_file)  # refuse to install a policy every app would then fail on
        default_policy = Path(default_policy_file).read_text(encoding="utf-8")
    files = render_install(image, default_policy)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        (output_dir / name).write_text(content, encoding="utf-8")
        written.append(output_dir / name)
    return written
