"""`sidecar-policy argocd install`: write the kustomize Component that adds the plugin sidecar.

The files come from jinja2 templates in postrender/argocd/templates/argocd-*.j2, rendered in a sandbox
with strict undefined variables. Autoescaping is off (it is HTML escaping, wrong for YAML);
instead every user value goes through `yaml_string`, which emits a double-quoted YAML scalar.
The checked-in argocd-plugin/ directory is this command's output for the default image.

The image is one of two flavours of ghcr.io/sidecar-policy/argocd-cmp, with the Helm major the
user's Argo CD ships, so a chart renders as it did under Argo CD's own Helm source: Helm 3 up to
Argo CD 3.4 (argoproj/argo-cd v3.4.7 hack/tool-versions.sh: helm3_version=3.19.4), Helm 4 from
3.5 (v3.5.0 hack/tool-versions.sh: helm4_version=4.2.1).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from postrender import __version__
from postrender.core.errors import UsageError

TEMPLATES = Path(__file__).parent / "templates"
IMAGE_REPOSITORY = "ghcr.io/sidecar-policy/argocd-cmp"
HELM4_SINCE = (3, 5)  # the first Argo CD release that ships Helm 4
_ARGOCD_VERSION = re.compile(r"^v?(\d+)\.(\d+)(\.\d+)?([-+][0-9A-Za-z.+-]*)?$")
# name[:tag][@digest], as a container runtime accepts it; no spaces, quotes or newlines.
_IMAGE_REFERENCE = re.compile(r"^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


def yaml_string(value: object) -> str:
    """A YAML double-quoted scalar: JSON string syntax is a subset of it, so any text stays one value."""
    return json.dumps(str(value), ensure_ascii=False)


def image_for(argocd_version: str) -> str:
    """The sidecar image whose Helm major matches this Argo CD release (e.g. v3.4.2 -> ...-helm3)."""
    match = _ARGOCD_VERSION.match(argocd_version.strip())
    if not match:
        raise UsageError(f"--argocd-version {argocd_version!r} is not an Argo CD release like v3.5.1")
    helm = 4 if (int(match[1]), int(match[2])) >= HELM4_SINCE else 3
    return f"{IMAGE_REPOSITORY}:{__version__}-helm{helm}"


DEFAULT_IMAGE = image_for(".".join(map(str, HELM4_SINCE)))


def render_install(image: str, default_policy: str | None = None) -> dict[str, str]:
    """File name -> content: the Component for `image` (with the default policy file if given), and
    the same sidecar as values for the argo-helm chart."""
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
    context: dict[str, object] = {"image": image, "default_policy": default_policy is not None}
    files = {
        name: environment.get_template(f"argocd-{name}.j2").render(context)
        for name in ("kustomization.yaml", "plugin.yaml", "repo-server-patch.yaml")
    }
    plugin_spec = files["plugin.yaml"].split("\nspec:\n", 1)[1]
    # The chart passes extraObjects through `tpl` (argo-helm charts/argo-cd/templates/extra-manifests.yaml):
    # a `{{` in the policy (in a comment, say) must reach the ConfigMap as text, not as a template.
    escaped_policy = (default_policy or "").replace("{{", '{{ "{{" }}')
    context.update(plugin_spec=_dedent(plugin_spec, 2), default_policy_text=escaped_policy)
    files["argo-helm-values.yaml"] = environment.get_template("argocd-argo-helm-values.yaml.j2").render(context)
    if default_policy is not None:
        files["default-policy.yaml"] = default_policy
    return files


def _dedent(text: str, width: int) -> str:
    return "".join(line[width:] if line.startswith(" " * width) else line for line in text.splitlines(keepends=True))


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
