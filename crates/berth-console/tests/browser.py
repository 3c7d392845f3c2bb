"""The admin console in a real Chromium, driven by Playwright (run by tests/browser.rs).

argv: URL ADMIN_PASSWORD VIEWER_PASSWORD OUT_DIR CHROMIUM CERT_PEM KEY_PEM
Every step asserts what the page shows; a failure exits non-zero with the step's name.
Screenshots of each page go to OUT_DIR.
"""
import os
import sys

from playwright.sync_api import expect, sync_playwright

URL, ADMIN, VIEWER, OUT, CHROMIUM, CERT, KEY = sys.argv[1:8]
URL = URL.rstrip("/")
STEP = ["start"]
JOB_TIMEOUT = 240_000


def step(name):
    STEP[0] = name
    print(f"step: {name}", flush=True)


def shot(page, name):
    page.screenshot(path=os.path.join(OUT, f"{name}.png"), full_page=True)


def login(page, password):
    page.goto(URL + "/")
    expect(page).to_have_url(URL + "/login")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(URL + "/")


def wait_job(page, name):
    """On a job page: wait until it ends, return (ok, events)."""
    expect(page).to_have_url(__import__("re").compile(r".*/jobs/\d+$"))
    page.wait_for_selector("#job[data-done=true]", timeout=JOB_TIMEOUT)
    shot(page, name)
    ok = page.locator("#job-state .badge").inner_text().strip() == "succeeded"
    events = page.locator("#events li").all_inner_texts()
    return ok, events


def fill_config(page, hostname, replicas, upload):
    page.goto(URL + "/configure")
    page.get_by_label("Hostname").fill(hostname)
    page.get_by_label("Web replicas").fill(replicas)
    tls = page.get_by_label("Serve HTTPS")
    if not tls.is_checked():
        tls.check()
    if upload:
        # The file inputs appear only once "Serve HTTPS" is on (live `when`).
        expect(page.locator("[data-item=tls_cert]")).to_be_visible()
        page.get_by_label("TLS certificate (PEM)").set_input_files(CERT)
        page.get_by_label("TLS private key (PEM)").set_input_files(KEY)


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(ignore_https_errors=True, accept_downloads=True)
        page = ctx.new_page()

        step("a wrong password is refused")
        page.goto(URL + "/login")
        shot(page, "01-login")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#login-error")).to_contain_text("Wrong password")

        step("log in as admin")
        login(page, ADMIN)
        expect(page.locator("body")).to_contain_text("is not installed")
        shot(page, "02-dashboard-empty")

        step("when-dependent fields follow the edits live")
        page.goto(URL + "/configure")
        shot(page, "03-configure")
        cert_field = page.locator("[data-item=tls_cert]")
        expect(cert_field).to_be_hidden()
        expect(page.locator("[data-item=db_host]")).to_be_hidden()
        page.get_by_label("Database", exact=True).select_option("external")
        expect(page.locator("[data-item=db_host]")).to_be_visible()
        expect(page.locator("[data-item=embedded_db_size]")).to_be_hidden()
        page.get_by_label("Database", exact=True).select_option("embedded")
        expect(page.locator("[data-item=db_host]")).to_be_hidden()
        page.get_by_label("Serve HTTPS").check()
        expect(cert_field).to_be_visible()
        page.get_by_label("Expose Hello through an Ingress").uncheck()
        expect(cert_field).to_be_hidden()
        page.get_by_label("Expose Hello through an Ingress").check()
        expect(cert_field).to_be_visible()
        shot(page, "04-configure-tls-shown")

        step("a validation error shows at the field")
        fill_config(page, "Not A Host!", "2", upload=True)
        page.get_by_role("button", name="Review changes").click()
        err = page.locator("#e-hostname")
        expect(err).to_be_visible()
        expect(err).to_contain_text("must be a DNS name")
        expect(page.get_by_label("Hostname")).to_have_attribute("aria-invalid", "true")
        # The refused upload is not kept: the page must not claim a file is set.
        expect(page.locator("[data-item=tls_cert]")).not_to_contain_text("A file is set")
        shot(page, "05-configure-error")

        step("review and deploy (install)")
        fill_config(page, "hello.example.com", "2", upload=True)
        page.get_by_role("button", name="Review changes").click()
        expect(page.locator("h1")).to_contain_text("install of 1.0.0")
        expect(page.locator(".plan")).to_be_visible()
        expect(page.locator("details summary").first).to_be_visible()
        shot(page, "06-review")
        page.get_by_role("button", name="Deploy 1.0.0").click()
        ok, events = wait_job(page, "07-deploy-progress")
        assert ok, f"install failed: {events}"
        assert len(events) > 3, f"expected live progress events, got {events}"
        assert any("ready" in e for e in events), events
        live = page.locator("#events li[data-live]").count()
        assert live > 0, "no event arrived over server-sent events"

        step("the dashboard shows the installed app")
        page.goto(URL + "/")
        expect(page.locator("#version")).to_have_text("1.0.0")
        expect(page.locator("#last-operation")).to_contain_text("install")
        shot(page, "08-dashboard")

        step("upgrade with more replicas (files kept)")
        page.goto(URL + "/configure")
        expect(page.locator("[data-item=tls_cert]")).to_contain_text("A file is set")
        page.get_by_label("Web replicas").fill("3")
        page.get_by_role("button", name="Review changes").click()
        expect(page.locator("h1")).to_contain_text("upgrade of 1.0.0")
        changed = page.locator("details").filter(has=page.locator("pre.diff"))
        expect(changed.filter(has_text="replicas: 3")).to_have_count(1)
        expect(changed.filter(has_text="configmap/")).to_have_count(0)
        page.get_by_role("button", name="Deploy 1.0.0").click()
        ok, events = wait_job(page, "09-upgrade-progress")
        assert ok, f"upgrade failed: {events}"

        step("versions: diff and rollback")
        page.goto(URL + "/versions")
        shot(page, "10-versions")
        page.get_by_role("link", name="Changes from 1").click()
        expect(page.locator("pre.diff", has_text="replicas: 3")).to_have_count(1)
        shot(page, "11-diff")
        page.goto(URL + "/versions")
        page.locator("#rollback-1").click()
        ok, events = wait_job(page, "12-rollback-progress")
        assert ok, f"rollback failed: {events}"
        page.goto(URL + "/versions")
        expect(page.locator("#history tbody tr").first).to_contain_text("rollback")
        shot(page, "13-versions-after-rollback")

        step("preflight")
        page.goto(URL + "/preflight")
        page.get_by_role("button", name="Run preflight checks").click()
        ok, events = wait_job(page, "14-preflight-progress")
        assert ok, f"preflight did not run: {events}"
        page.goto(URL + "/preflight")
        rows = page.locator("#preflight-results tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() >= 3, rows.count()
        expect(page.locator("#preflight-verdict")).to_be_visible()
        shot(page, "15-preflight")

        step("support bundle: generate, view, download")
        page.goto(URL + "/troubleshoot")
        page.get_by_role("button", name="Generate a support bundle").click()
        ok, events = wait_job(page, "16-bundle-progress")
        assert ok, f"support bundle failed: {events}"
        assert any("collected" in e for e in events), events
        page.goto(URL + "/troubleshoot")
        expect(page.locator("table.analysis tbody tr").first).to_be_visible()
        shot(page, "17-troubleshoot")
        # Browse a redacted file of the bundle.
        page.locator("details summary", has_text="Files in the bundle").first.click()
        page.locator("ul.files a", has_text="analysis.json").first.click()
        expect(page.locator("pre.file")).to_be_visible()
        expect(page.locator("h1")).to_contain_text("analysis.json")
        page.goto(URL + "/troubleshoot")
        with page.expect_download() as d:
            page.locator("a.download").first.click()
        path = os.path.join(OUT, d.value.suggested_filename)
        d.value.save_as(path)
        with open(path, "rb") as f:
            assert f.read(2) == b"\x1f\x8b", "the download is not a gzip file"
        print(f"downloaded: {path}", flush=True)

        step("log out")
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(URL + "/login")
        page.goto(URL + "/versions")
        expect(page).to_have_url(URL + "/login")

        step("a viewer reads but cannot deploy")
        login(page, VIEWER)
        expect(page.locator(".role")).to_contain_text("viewer")
        page.goto(URL + "/configure")
        expect(page.get_by_role("button", name="Review changes")).to_have_count(0)
        page.goto(URL + "/versions")
        expect(page.locator("#history")).to_be_visible()
        expect(page.locator("button[id^=rollback-]")).to_have_count(0)
        shot(page, "18-viewer-versions")
        # Even a hand-made request with the viewer's own CSRF token is refused.
        status = page.evaluate(
            """async () => {
                const csrf = document.getElementById('main').dataset.csrf;
                const body = new URLSearchParams({csrf, revision: '1'});
                const r = await fetch('/rollback', {method: 'POST', body});
                return r.status;
            }"""
        )
        assert status == 403, f"viewer rollback answered {status}"
        page.goto(URL + "/troubleshoot")
        expect(page.locator("a.download").first).to_be_visible()

        step("narrow screen")
        page.set_viewport_size({"width": 380, "height": 800})
        page.goto(URL + "/")
        shot(page, "19-dashboard-narrow")
        browser.close()
    print("OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - name the step for the Rust side
        print(f"FAILED at step {STEP[0]!r}: {e!r}", flush=True)
        sys.exit(1)
