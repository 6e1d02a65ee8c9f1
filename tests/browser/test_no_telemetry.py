"""The app sends nothing off the machine: open the page, change the design, export ONNX and open it in
Netron's viewer, and record every request the page, its iframes and workers try to make — the ones a
route aborts, the ones that fail and the ones the Content-Security-Policy refuses before they leave.
Every one must be to the app itself (or a data: / blob: URL), and the viewer asks no cookie question."""
from urllib.parse import urlsplit

from .helpers import params_on_page, pick, wait_params_change

LOCAL_SCHEMES = ("data:", "blob:", "about:")


def test_nothing_leaves_the_machine(browser, app_url, shot):
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(app_url))

    def local(url: str) -> bool:
        return url.startswith(LOCAL_SCHEMES) or url == origin or url.startswith(origin + "/")

    seen, outside, refused, failed = [], [], [], []

    def on_request(request):
        seen.append(request.url)
        if not local(request.url):
            outside.append(f"{request.method} {request.url}")

    def on_route(route):
        if local(route.request.url):
            route.continue_()
        else:  # log it (on_request did) and never let it out, even if this machine could reach it
            route.abort("blockedbyclient")

    def on_console(msg):  # what the browser refused (CSP) never becomes a request: it says so here
        text = msg.text
        if "Content Security Policy" in text or "Refused to" in text:
            refused.append(text)

    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    context.route("**/*", on_route)
    context.on("request", on_request)
    context.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    # a page's CSP violations, in every frame, reported where the test can read them
    context.add_init_script("""document.addEventListener('securitypolicyviolation', (e) =>
        console.warn('Refused to load (Content Security Policy) ' + e.blockedURI + ' ' + e.violatedDirective));""")
    page = context.new_page()
    page.on("console", on_console)
    page.on("worker", lambda w: w.on("console", on_console))
    page.set_default_timeout(30000)
    try:
        page.goto(app_url)
        page.wait_for_selector("#summary #stat-params")

        # a design change: the page works as usual
        before = params_on_page(page)
        pick(page, "Backbone", "ghostnet")
        wait_params_change(page, before)

        # export and open the viewer, as a user would
        page.get_by_role("tab", name="Export").click()
        page.get_by_label("Export image size").fill("128")
        page.locator("#export-onnx").click()
        page.wait_for_selector("#export-check", timeout=120000)
        frame = page.wait_for_selector("#netron-frame").content_frame()
        page.wait_for_timeout(4000)  # netron's start-up (consent, telemetry) runs before it draws

        prompt = frame.get_by_text("uses cookies")
        asked = prompt.count() > 0 and prompt.first.is_visible()
        if asked:  # answer it as a user would, to see what it goes on to send (the test fails anyway)
            frame.get_by_text("Accept").click()
        frame.locator("svg#canvas g.node").first.wait_for(timeout=60000)  # the graph is drawn
        frame.locator("body:not(.spinner)").wait_for(timeout=60000)
        page.wait_for_timeout(3000)  # anything sent after the graph shows (page_view, scroll, ...)
        page.locator("#netron-frame").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shot(page, "09-no-telemetry")

        print("outside:", outside, "\nrefused:", refused, "\nfailed:", failed, "\nasked:", asked)
        assert not outside, ("requests off the machine:\n" + "\n".join(outside)
                             + "\n(failed: " + "; ".join(failed) + ")")
        assert not refused, "requests off the machine, refused by the browser:\n" + "\n".join(refused)
        assert not asked, "Netron asked the cookie / telemetry question"
        assert frame.get_by_text("uses cookies").count() == 0
        assert frame.locator("svg#canvas g.node").count() > 50
        assert any("/netron/models/" in url for url in seen)  # the recording saw the viewer's own work
    finally:
        context.close()
