"""sidecar-policy as users run it: the wheel built from this checkout, installed by pip into a new virtualenv.

The editable install of the development venv is not what users run: its import hook (a .pth file and a
finder) costs every Python start in that venv, `python -c pass` included, which flattered start-up
ratios. pip compiles the wheel's modules at install, as for users; the dependencies are the versions
of requirements/test.lock, from the package index.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "test.lock"


def install(work: Path) -> Path:
    """Build the wheel, install it into work/venv (made anew); the venv's bin directory."""
    dist, venv = work / "dist", work / "venv"
    shutil.rmtree(dist, ignore_errors=True)
    # No isolation: the build backend is the locked setuptools of this environment (as release/check.py).
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)])
    (wheel,) = dist.glob("*.whl")
    constraints = work / "constraints.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in locked_pins()))
    _run([sys.executable, "-m", "venv", "--clear", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--constraint", str(constraints), str(wheel)])
    return venv / "bin"


def locked_pins() -> list[str]:
    """`name==version ; marker` of every package in the lock (the wheel's dependencies are among them)."""
    return [match.group(1).strip() for match in re.finditer(r"(?m)^([A-Za-z0-9][^\s\\]*==[^\\\n]+?)\s*\\$", LOCK.read_text())]


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, argv, done.stdout, done.stderr[-3000:])
