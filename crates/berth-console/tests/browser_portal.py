"""The vendor's portal in a real Chromium, driven by Playwright (run by tests/portal.rs).

argv: URL ADMIN_TOKEN READ_ONLY_TOKEN OUT_DIR CHROMIUM ADVISORY
Every step asserts what the page shows; a failure exits non-zero with the step's name.
Screenshots of each page and the downloaded license go to OUT_DIR.
"""
import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

URL, ADMIN, READER, OUT, CHROMIUM, ADVISORY = sys.argv[1:7]
URL = URL.rstrip("/")
STEP = ["start"]


def step(name):
    STEP[0] = name
    print(f"step: {name}", flush=True)


def shot(page, name):
    page.screenshot(path=os.path.join(OUT, f"{name}.png"), full_page=True)


def login(page, token):
    page.goto(URL + "/portal/")
    expect(page).to_have_url(URL + "/portal/login")
    page.get_by_label("Vendor API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(URL + "/portal/")


# The outermost elements that stick out past the screen's right edge (outside scroll boxes).
WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def channel(page, name):
    return page.locator("section").filter(has=page.get_by_role("heading", name=re.compile(f"^Channel {name}")))


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(accept_downloads=True)
        page = ctx.new_page()

        step("a wrong token is refused")
        page.goto(URL + "/portal/login")
        shot(page, "01-login")
        page.get_by_label("Vendor API token").fill("bvt_not_a_token")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#login-error")).to_contain_text("not a valid vendor token")
        expect(page.get_by_label("Vendor API token")).to_have_attribute("aria-invalid", "true")

        step("log in with the admin token")
        login(page, ADMIN)
        expect(page.locator("header")).to_contain_text("(admin)")
        expect(page.get_by_role("link", name="hello", exact=True)).to_be_visible()
        shot(page, "02-apps")

        step("the keyboard reaches the skip link first")
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text("Skip to content")

        step("releases per channel")
        page.get_by_role("link", name="hello", exact=True).click()
        expect(page).to_have_url(URL + "/portal/apps/hello")
        stable = channel(page, "stable")
        expect(stable.get_by_role("link", name="1.1.0")).to_be_visible()
        expect(page.locator("body")).to_contain_text("1 blocking finding(s)")
        shot(page, "03-releases")

        step("promote 1.1.0 to beta")
        row = stable.locator("tr").filter(has=page.get_by_role("link", name="1.1.0"))
        row.get_by_label("Channel for 1.1.0").select_option("beta")
        row.get_by_role("button", name="Promote 1.1.0").click()
        expect(page.locator("#notice")).to_have_text("Promoted hello 1.1.0 to beta.")
        expect(channel(page, "beta").get_by_role("link", name="1.1.0")).to_be_visible()
        shot(page, "04-promoted")

        step("the gate refuses 1.2.0 and says why")
        row = page.locator("tr").filter(has=page.get_by_role("link", name="1.2.0")).first
        row.get_by_label("Channel for 1.2.0").select_option("stable")
        row.get_by_role("button", name="Promote 1.2.0").click()
        refusal = page.locator("#promote-error")
        expect(refusal).to_contain_text("was not promoted to stable")
        expect(refusal).to_contain_text(ADVISORY)
        shot(page, "05-gate-refused")

        step("the release's scan results")
        page.get_by_role("link", name="1.2.0").first.click()
        expect(page.locator("h1")).to_have_text("hello 1.2.0")
        expect(page.locator("#findings")).to_contain_text("libexample1")
        expect(page.locator("#findings")).to_contain_text(ADVISORY)
        shot(page, "06-release")

        step("open a customer")
        page.get_by_role("link", name="Customers", exact=True).click()
        expect(page.locator("#customers")).to_contain_text("acme")
        shot(page, "07-customers")
        page.get_by_role("link", name="acme").click()
        expect(page.locator("h1")).to_have_text("Customer acme")
        expect(page.locator("#entitlements")).to_contain_text("seats")

        step("issue and download a license")
        page.get_by_role("button", name="Issue license").click()
        expect(page.locator("#issued")).to_be_visible()
        shot(page, "08-license-issued")
        with page.expect_download() as d:
            page.locator("#issued").get_by_role("link", name=re.compile("^Download license")).click()
        target = os.path.join(OUT, "acme.license.yaml")
        d.value.save_as(target)
        text = open(target).read()
        assert "kind: License" in text and "customer: acme" in text, text

        step("a bad expiry shows at its field")
        page.get_by_label("New expiry").fill("next tuesday")
        page.get_by_role("button", name="Renew").click()
        expect(page.locator("#expires-error")).to_contain_text("is not a date")
        expect(page.get_by_label("New expiry")).to_have_attribute("aria-invalid", "true")
        shot(page, "09-renew-error")
        page.get_by_label("New expiry").fill("2031-06-30")
        page.get_by_role("button", name="Renew").click()
        expect(page.locator("#notice")).to_contain_text("Renewed")
        expect(page.locator("dl.facts")).to_contain_text("2031-06-30")

        step("instances")
        page.goto(URL + "/portal/apps/hello/instances")
        expect(page.locator("#instances")).to_contain_text("acme")
        expect(page.locator("#instances")).to_contain_text("v1.31.2")
        shot(page, "10-instances")

        step("a narrow screen scrolls tables, not the page")
        page.set_viewport_size({"width": 380, "height": 800})
        page.goto(URL + "/portal/apps/hello")
        shot(page, "11-narrow")
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(WIDEST)
        assert width <= 381, f"the page is {width}px wide on a 380px screen: {wide}"

        page.set_viewport_size({"width": 1280, "height": 800})

        step("log out")
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(URL + "/portal/login")
        page.goto(URL + "/portal/apps/hello")
        expect(page).to_have_url(URL + "/portal/login")

        step("read-only sees everything and no change button")
        login(page, READER)
        expect(page.locator("header")).to_contain_text("(read-only)")
        page.goto(URL + "/portal/apps/hello")
        expect(channel(page, "stable").get_by_role("link", name="1.1.0")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("^Promote"))).to_have_count(0)
        shot(page, "12-read-only-releases")
        page.goto(URL + "/portal/customers/acme")
        expect(page.locator("#entitlements")).to_contain_text("seats")
        for name in ["Issue license", "Renew", "Change channels", "Revoke"]:
            expect(page.get_by_role("button", name=name)).to_have_count(0)
        shot(page, "13-read-only-customer")

        browser.close()
    print("\nOK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the step's name makes a failure readable
        print(f"FAILED at step {STEP[0]!r}: {e}", flush=True)
        sys.exit(1)
