# The admin console's browser tests (crates/berth-console/tests/browser.rs): Debian's
# chromium and chromium-driver, and Playwright for Python driving that chromium through
# executable_path (no browser download: `playwright install` is never run).
need_apt chromium chromium-driver python3-venv
PW_VENV="${BERTH_PLAYWRIGHT_VENV:-$HOME/.cache/berth-venv-playwright}"
if ! "$PW_VENV/bin/python" -c 'import playwright.sync_api' 2>/dev/null; then
  python3 -m venv "$PW_VENV"
  "$PW_VENV/bin/pip" install -q --disable-pip-version-check 'playwright==1.65.3'
fi
export BERTH_TEST_PLAYWRIGHT_PYTHON="$PW_VENV/bin/python"
export BERTH_TEST_CHROMIUM="$(command -v chromium || echo /usr/bin/chromium)"
