"""The studio in a real browser: headless Chromium (the system's, driven by Playwright) against a real server."""

import shutil

import pytest

from artdirector.director import ArtDirector
from artdirector.lm.dummy import DummyLM
from artdirector.serving.app import create_app
from artdirector.serving.settings import ServeSettings
from artdirector.serving.votes import VoteStore

from .test_app import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="needs a system Chromium (Debian: apt install chromium)")]
ANSWER = " oil painting, dramatic lighting, by hokusai, 8k"


def test_direct_toggle_a_phrase_and_screenshot(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    director = ArtDirector(DummyLM({}, default=ANSWER), tuned=True, max_new_tokens=80)
    server = Server(create_app(director, settings=ServeSettings(token="T"), votes=VoteStore(tmp_path / "v.sqlite")))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(server.url + "/")
            page.fill("#idea", "a lighthouse in a storm")
            page.fill("#token", "T")
            page.fill("#req-style", "ukiyo-e")
            page.fill("#exclude", "blurry")
            page.click("#go")
            prompt = page.locator(".candidate .prompt").first
            expect(prompt).to_contain_text("a lighthouse in a storm, ", timeout=30_000)
            text = prompt.inner_text()
            assert "ukiyo-e" in text and "oil painting" in text
            assert "blurry" in page.locator(".candidate .negative").first.inner_text()
            categories = set(page.eval_on_selector_all(".candidate .phrase",
                                                       "els => els.map(e => e.dataset.category)"))
            assert {"style", "medium"} <= categories  # each phrase coloured by its category
            added = page.locator(".candidate .phrase.added", has_text="oil painting")
            expect(added).to_have_count(1)
            added.click()  # turn it off: the prompt is rendered again without it
            expect(prompt).not_to_contain_text("oil painting", timeout=10_000)
            assert prompt.inner_text().startswith("a lighthouse in a storm, ") and "ukiyo-e" in prompt.inner_text()
            page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
            page.fill("#n", "2")  # two candidates, side by side; prefer the second
            page.click("#go")
            expect(page.locator(".candidate")).to_have_count(2, timeout=30_000)
            texts = page.locator(".candidate .prompt").all_inner_texts()
            page.locator(".candidate .vote").nth(1).click()
            expect(page.locator("#status")).to_contain_text("vote saved (1 in all)", timeout=10_000)
            browser.close()
        assert (tmp_path / "studio.png").stat().st_size > 10_000
        pairs = list(VoteStore(tmp_path / "v.sqlite").pairs())
        assert len(pairs) == 1 and pairs[0]["prompt"] == "a lighthouse in a storm" and pairs[0]["seed"] == 0
        assert (pairs[0]["chosen"], pairs[0]["rejected"]) == (texts[1], texts[0])
    finally:
        server.stop()
