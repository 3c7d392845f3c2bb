"""The console's online pages in a real Chromium, driven by Playwright (run by tests/online.rs).

argv: URL ADMIN_PASSWORD VIEWER_PASSWORD OUT_DIR CHROMIUM
The console serves app `shop` 1.0.0, installed online from a vendor server that offers 1.1.0
(required) and 1.2.0, with a snapshot schedule into a local repository. Every step asserts
what the page shows; a failure exits non-zero with the step's name. Screenshots go to OUT_DIR.
"""
import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

URL, ADMIN, VIEWER, OUT, CHROMIUM = sys.argv[1:6]
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
    expect(page).to_have_url(re.compile(r".*/jobs/\d+$"))
    page.wait_for_selector("#job[data-done=true]", timeout=JOB_TIMEOUT)
    shot(page, name)
    ok = page.locator("#job-state .badge").inner_text().strip() == "succeeded"
    events = page.locator("#events li").all_inner_texts()
    return ok, events


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(ignore_https_errors=True)
        page = ctx.new_page()

        step("log in as admin")
        login(page, ADMIN)

        step("versions: newer releases from the vendor server")
        page.goto(URL + "/versions")
        updates = page.locator("#updates")
        expect(updates).to_have_attribute("data-state", "answer")
        expect(page.locator("#current-version")).to_have_text("1.0.0")
        rows = page.locator("#newer tbody tr")
        expect(rows).to_have_count(2)
        # Newest first; the required release is marked; notes are shown.
        expect(rows.nth(0)).to_have_attribute("data-version", "1.2.0")
        expect(rows.nth(1)).to_have_attribute("data-version", "1.1.0")
        expect(rows.nth(1)).to_contain_text("required")
        expect(rows.nth(1)).to_contain_text("Moves the orders to the new schema")
        expect(rows.nth(0)).to_contain_text("A new theme")
        expect(rows.nth(0)).to_contain_text("Installs 1.1.0 first (required)")
        shot(page, "01-versions-updates")

        step("upgrade to 1.2.0 through the required 1.1.0")
        page.get_by_role("button", name="Upgrade to 1.2.0").click()
        ok, events = wait_job(page, "02-upgrade-progress")
        assert ok, f"upgrade failed: {events}"
        text = "\n".join(events)
        assert "1.0.0 -> 1.1.0 -> 1.2.0" in text, events
        assert "preflight checks of 1.1.0" in text, events
        assert "preflight checks of 1.2.0" in text, events
        page.goto(URL + "/versions")
        expect(page.locator("#current-version")).to_have_text("1.2.0")
        expect(page.locator("#up-to-date")).to_be_visible()
        expect(page.locator("#history tbody tr").first).to_contain_text("1.2.0")
        shot(page, "03-versions-up-to-date")

        step("snapshots: the schedule's repository and schedule")
        page.get_by_role("link", name="Snapshots").click()
        expect(page).to_have_url(URL + "/snapshots")
        expect(page.locator("#repo-source")).to_contain_text("secret/berth-snapshot-shop")
        expect(page.locator("#schedule-cron")).to_contain_text("0 3 * * *")
        expect(page.locator("#schedule-retention")).to_contain_text("keep-daily=7")
        expect(page.locator("#no-snapshots")).to_be_visible()
        shot(page, "04-snapshots-empty")

        step("take a snapshot now")
        page.get_by_role("button", name="Take a snapshot now").click()
        ok, events = wait_job(page, "05-snapshot-progress")
        assert ok, f"snapshot failed: {events}"
        page.goto(URL + "/snapshots")
        rows = page.locator("#snapshot-list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("1.2.0")
        expect(rows.first).to_contain_text("by hand")
        shot(page, "06-snapshots-one")

        step("a restore into a bad namespace is refused before anything runs")
        ns_field = rows.first.get_by_role("textbox")
        ns_field.fill("Not_A_Namespace")
        rows.first.get_by_role("button", name="Restore…").click()
        expect(page.locator("#snapshots-refused")).to_contain_text("not a namespace name")
        rows = page.locator("#snapshot-list tbody tr")
        rows.first.get_by_role("textbox").fill("shop")
        rows.first.get_by_role("button", name="Restore…").click()
        expect(page.locator("#snapshots-refused")).to_contain_text("the namespace the app runs in")

        step("restore into a new namespace, after its confirmation")
        rows = page.locator("#snapshot-list tbody tr")
        rows.first.get_by_role("textbox").fill("shop-restored")
        rows.first.get_by_role("button", name="Restore…").click()
        expect(page.locator("h1")).to_contain_text("into namespace shop-restored")
        expect(page.locator("#restore-target")).to_contain_text("will be created")
        shot(page, "07-restore-confirm")
        page.get_by_role("button", name="Restore into shop-restored").click()
        ok, events = wait_job(page, "08-restore-progress")
        assert ok, f"restore failed: {events}"
        assert any("shop-restored" in e for e in events), events

        step("support bundle: generate, then send to the vendor")
        page.goto(URL + "/troubleshoot")
        page.get_by_role("button", name="Generate a support bundle").click()
        ok, events = wait_job(page, "09-bundle-progress")
        assert ok, f"support bundle failed: {events}"
        page.goto(URL + "/troubleshoot")
        page.get_by_role("button", name="Send to vendor").first.click()
        ok, events = wait_job(page, "10-send-progress")
        assert ok, f"sending failed: {events}"
        assert any("sent to the vendor as support bundle" in e for e in events), events
        page.goto(URL + "/troubleshoot")
        expect(page.locator(".sent").first).to_contain_text("Sent to the vendor")
        expect(page.get_by_role("button", name="Send to vendor")).to_have_count(0)
        shot(page, "11-troubleshoot-sent")

        step("log out; a viewer reads but cannot upgrade, snapshot, restore or send")
        page.get_by_role("button", name="Log out").click()
        login(page, VIEWER)
        page.goto(URL + "/versions")
        expect(page.locator("#updates")).to_have_attribute("data-state", "answer")
        expect(page.locator("button[id^=upgrade-]")).to_have_count(0)
        page.goto(URL + "/snapshots")
        expect(page.locator("#snapshot-list tbody tr")).to_have_count(1)
        expect(page.locator("#take-snapshot")).to_have_count(0)
        expect(page.locator("form.restore")).to_have_count(0)
        page.goto(URL + "/troubleshoot")
        expect(page.get_by_role("button", name="Send to vendor")).to_have_count(0)
        shot(page, "12-viewer-snapshots")

        step("narrow screen")
        page.set_viewport_size({"width": 380, "height": 800})
        page.goto(URL + "/snapshots")
        shot(page, "13-snapshots-narrow")
        page.goto(URL + "/versions")
        shot(page, "14-versions-narrow")
        browser.close()
    print("OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - name the step for the Rust side
        print(f"FAILED at step {STEP[0]!r}: {e!r}", flush=True)
        sys.exit(1)
