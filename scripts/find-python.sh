#!/usr/bin/env bash
# Print the path of a usable Python X.Y interpreter (one that can create a venv).
#
#   scripts/find-python.sh 3.11
#
# Looks, in order, at: `pythonX.Y` and `python3` on PATH, pyenv (`pyenv prefix X.Y`),
# uv (`uv python find X.Y`, then `uv python install X.Y`). If uv is not installed it is
# first installed with pip into a bootstrap folder outside the project
# ($SERVICEDESK_BOOTSTRAP, default ~/.cache/servicedesk/bootstrap).
# Only the interpreter's path goes to stdout; what the script does goes to stderr.
set -euo pipefail

version=${1:-}
if [[ ! $version =~ ^3\.[0-9]+$ ]]; then
    echo "usage: $0 3.X   (e.g. 3.11)" >&2
    exit 2
fi

say() { echo "find-python: $*" >&2; }

# usable PYTHON: the right version and able to create a venv with pip in it.
usable() {
    "$1" - "$version" >/dev/null 2>&1 <<'PY'
import sys
import ensurepip, venv  # noqa: F401  (Debian splits these off into python3.X-venv)
sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != sys.argv[1])
PY
}

# found PYTHON: print its real path (resolving pyenv shims) and stop.
found() {
    "$1" -c 'import sys; print(sys.executable)'
    exit 0
}

for candidate in "python$version" python3; do
    if command -v "$candidate" >/dev/null 2>&1 && usable "$candidate"; then
        found "$candidate"
    fi
done

if command -v pyenv >/dev/null 2>&1; then
    prefix=$(pyenv prefix "$version" 2>/dev/null || true)
    if [[ -n $prefix ]] && usable "$prefix/bin/python$version"; then
        found "$prefix/bin/python$version"
    fi
fi

bootstrap=${SERVICEDESK_BOOTSTRAP:-${XDG_CACHE_HOME:-$HOME/.cache}/servicedesk/bootstrap}
uv=$(command -v uv 2>/dev/null || true)
if [[ -z $uv && -x $bootstrap/bin/uv ]]; then
    uv=$bootstrap/bin/uv
fi
if [[ -z $uv ]]; then
    installer=""
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -m pip --version >/dev/null 2>&1; then
            installer=$candidate
            break
        fi
    done
    if [[ -z $installer ]]; then
        say "no Python $version found (looked for python$version, python3, pyenv, uv),"
        say "and no Python with pip to install uv with. Install Python $version"
        say "(e.g. 'apt-get install python$version python$version-venv', or pyenv, or uv) and retry."
        exit 1
    fi
    say "no Python $version on PATH or in pyenv: installing uv into $bootstrap with $installer -m pip"
    "$installer" -m pip install --quiet --disable-pip-version-check --target "$bootstrap" uv >&2
    uv=$bootstrap/bin/uv
fi

if path=$("$uv" python find "$version" 2>/dev/null) && usable "$path"; then
    found "$path"
fi
say "installing Python $version with: $uv python install $version"
if "$uv" python install "$version" >&2 \
    && path=$("$uv" python find --managed-python "$version") && usable "$path"; then
    found "$path"
fi
say "could not find or install Python $version (tried PATH, pyenv and uv)."
say "Install Python $version yourself and put python$version on PATH."
exit 1
