# Sourced by up.sh and test.sh: a virtualenv in .venv with Conflux and its test tools installed.
# Re-installs only when pyproject.toml changed since the last install.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    if ! "$PYTHON_BIN" -m venv "$VENV" 2>/dev/null; then
        echo "python_env.sh: installing python3-venv" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON_BIN" -m venv "$VENV"
    fi
fi
STAMP="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [[ ! -f "$STAMP" ]]; then
    echo "python_env.sh: installing Conflux and its dependencies into .venv" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
