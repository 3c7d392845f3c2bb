"""Page load (navigation start to the load event) of each console page in Chromium.

argv: URL PASSWORD CHROMIUM RUNS. Prints a markdown table; run by bench_console.rs.
"""
import statistics
import sys

from playwright.sync_api import sync_playwright

URL, PASSWORD, CHROMIUM, RUNS = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], int(sys.argv[4])
PAGES = ["/", "/configure", "/versions", "/snapshots", "/preflight", "/troubleshoot"]

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    page = browser.new_context(ignore_https_errors=True).new_page()
    page.goto(URL + "/login")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(URL + "/")
    print(f"\npage load in Chromium, navigation start to load event ({RUNS} runs; budget 500 ms)\n")
    print("| page | median ms | max ms | median / budget |")
    print("|---|---|---|---|")
    for path in PAGES:
        times = []
        for _ in range(RUNS):
            page.goto(URL + path, wait_until="load")
            t = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; }"
            )
            times.append(t)
        med = statistics.median(times)
        print(f"| {path} | {med:.1f} | {max(times):.1f} | {med / 500 * 100:.0f}% |")
    browser.close()
