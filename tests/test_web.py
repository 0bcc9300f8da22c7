"""The warning web page in a real browser: headless Chromium (Debian's, driven by the playwright
Python package through ``executable_path``; no browser is downloaded) loads the page served by
Flask, submits a post and finds the warnings highlighted in the text."""
from __future__ import annotations

import shutil
import threading

import pytest

flask = pytest.importorskip("flask")

from prism_eval.web import create_app, page_html  # noqa: E402

POST = "Just got my nursing badge at St. Mary's, 29 and finally debt-free!"


def _browser() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(b)), None)


@pytest.fixture(scope="module")
def app():
    app = create_app(model="lexicon")
    yield app
    app.warner.close()


def test_api_answers_the_findings_as_json(app):
    client = app.test_client()
    assert b"What does this post reveal?" in client.get("/").data
    r = client.post("/api/warn", data={"text": POST, "history": ""})
    assert r.status_code == 200
    found = {f["attribute"]: f for f in r.get_json()["reveals"]}
    assert {"occupation", "age"} <= set(found)
    s = found["age"]["spans"][0]
    assert POST[s["start"]:s["end"]] == "29"
    # nothing to check is a 400 with the reason, not a crash
    bad = client.post("/api/warn", data={"text": "  "})
    assert bad.status_code == 400 and "nothing to check" in bad.get_json()["error"]


def test_page_is_self_contained():
    html = page_html()
    assert "<script src" not in html and "<link" not in html and "http://" not in html


@pytest.fixture(scope="module")
def server(app):
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/"
    srv.shutdown()
    thread.join(timeout=10)


@pytest.mark.skipif(_browser() is None, reason="no Chromium (.ci/run installs Debian's chromium)")
def test_page_highlights_the_warnings_in_chromium(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            page.goto(server)
            page.fill("#text", POST)
            page.click("#check")
            page.wait_for_selector("body[data-state=done]", timeout=60_000)
            marks = page.eval_on_selector_all(
                "#post-view mark.cue", "ms => ms.map(m => [m.dataset.attribute, m.textContent])")
            assert ("occupation", "nursing") in [tuple(m) for m in marks]
            assert ("age", "29") in [tuple(m) for m in marks]
            # the highlighted view keeps the post's text as it was
            assert page.inner_text("#post-view") == POST
            items = page.eval_on_selector_all("#findings li", "ls => ls.map(l => l.dataset.attribute)")
            assert {"occupation", "age"} <= set(items)
        finally:
            browser.close()
