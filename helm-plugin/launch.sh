#!/bin/sh
# Helm 4 runs this (plugin.yaml: ${HELM_PLUGIN_DIR}/launch.sh) with the --post-renderer-args as
# arguments and the rendered manifests on stdin. It finds the installed sidecar-policy and execs it,
# so stdin, stdout and the exit code are the program's own. POSIX sh, builtins only: it must work
# with a minimal PATH.
#
# Where it looks, first hit wins:
#   1. $SIDECAR_POLICY_BIN          an explicit path (e.g. /opt/venv/bin/sidecar-policy)
#   2. $VIRTUAL_ENV/bin/sidecar-policy
#   3. sidecar-policy on PATH
#   4. $PIPX_BIN_DIR, then ~/.local/bin (pipx and `pip install --user` put it there, and Helm
#      is often started from an environment whose PATH lacks it)
#   5. python3 / python, when that interpreter has the package installed
set -u

# Helm 4 collects a plugin's stderr and throws it away (internal/plugin/runtime_subprocess.go
# runPostrenderer, v4.3.1), so a user would see only 'plugin "sidecar-policy" exited with error'.
# At a terminal, write our messages to it instead: every error and warning is seen, with no flag.
# Without one (CI), stderr stays as it is and --log-file / SIDECAR_POLICY_LOG_FILE keep them.
if [ ! -t 2 ] && (: >/dev/tty) 2>/dev/null; then
    exec 2>/dev/tty
fi

# Helm 4 discards a plugin's stderr, so a failure here must also reach the log file the user asked
# sidecar-policy to write (--log-file PATH, --log-file=PATH or SIDECAR_POLICY_LOG_FILE).
log_file=${SIDECAR_POLICY_LOG_FILE:-}
previous=
for argument in "$@"; do
    case $previous in --log-file) log_file=$argument ;; esac
    case $argument in --log-file=*) log_file=${argument#--log-file=} ;; esac
    previous=$argument
done

# Same line format as sidecar-policy's own diagnostics (postrender/core/diagnostics.py).
fail() {
    message="sidecar-policy: error: helm plugin: $1"
    printf '%s\n' "$message" >&2
    if [ -n "$log_file" ]; then
        stamp=$(date '+%Y-%m-%dT%H:%M:%S' 2>/dev/null) || stamp=
        printf '%s\n' "${stamp:+$stamp }$message" >>"$log_file" 2>/dev/null || :
    fi
    exit 127 # the shell's "command not found"
}

if [ -n "${SIDECAR_POLICY_BIN:-}" ]; then
    # An explicit choice that does not work is an error, not a reason to pick another program.
    if [ -f "$SIDECAR_POLICY_BIN" ] && [ -x "$SIDECAR_POLICY_BIN" ]; then
        exec "$SIDECAR_POLICY_BIN" "$@"
    fi
    fail "SIDECAR_POLICY_BIN=$SIDECAR_POLICY_BIN is not an executable file"
fi

on_path=$(command -v sidecar-policy 2>/dev/null) || on_path=
for candidate in \
    "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/sidecar-policy}" \
    "$on_path" \
    "${PIPX_BIN_DIR:+$PIPX_BIN_DIR/sidecar-policy}" \
    "${HOME:+$HOME/.local/bin/sidecar-policy}"; do
    if [ -n "$candidate" ] && [ -f "$candidate" ] && [ -x "$candidate" ]; then
        exec "$candidate" "$@"
    fi
done

# `python -m` and `-c` put the working directory first on sys.path, where a checkout's postrender/
# (without its dependencies) would win over the installed package: drop that entry.
installed_cli='import sys; del sys.path[0]; from postrender.cli import main'
for python in python3 python; do
    if command -v "$python" >/dev/null 2>&1 && "$python" -c "$installed_cli" >/dev/null 2>&1; then
        exec "$python" -c "$installed_cli; sys.exit(main())" "$@"
    fi
done

# Say what works: `helm plugin install ./helm-plugin` links to a checkout, which the program installs
# from (no release need exist); an archive comes from a release, whose package is on PyPI.
checkout=$(cd -P -- "${HELM_PLUGIN_DIR:-/nonexistent}/.." 2>/dev/null && pwd) || checkout=
if [ -n "$checkout" ] && [ -f "$checkout/pyproject.toml" ] && [ -f "$checkout/postrender/cli.py" ]; then
    install="'pipx install $checkout' (this plugin's checkout; or 'pip install $checkout' in a virtualenv)"
else
    install="'pipx install sidecar-policy' (or 'pip install sidecar-policy'; before a release: 'pipx install CHECKOUT')"
fi
explicit="set SIDECAR_POLICY_BIN to its path (e.g. /path/to/venv/bin/sidecar-policy)"
fail "cannot find the sidecar-policy program; install it with $install, or $explicit"
