# Real Helm v4 (helm-python-sdk from PyPI): the rendering oracle and a real Helm client.
HELM_VENV="${BERTH_HELM_VENV:-$HOME/.cache/berth-venv-helm}"
if ! "$HELM_VENV/bin/python" -c 'import helm_python' 2>/dev/null; then
  python3 -m venv "$HELM_VENV"
  "$HELM_VENV/bin/pip" install -q --disable-pip-version-check 'helm-python-sdk==0.2.2'
fi
export BERTH_TEST_HELM_PYTHON="$HELM_VENV/bin/python"
