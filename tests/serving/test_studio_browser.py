"""The studio in a real browser: headless Chromium (the system's, driven by Playwright) against a real server."""

import shutil

import pytest

from artdirector.director import ArtDirector
from artdirector.lm.dummy import DummyLM
from artdirector.serving.app import create_app
from artdirector.serving.settings import ServeSettings
from artdirector.serving.votes import VoteStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="needs a system Chromium (Debian: apt install chromium)")]
ANSWER = " oil painting, dramatic lighting, by hokusai, 8k"


def test_direct_toggle_a_phrase_and_screenshot(tmp_path, loopback):
    from playwright.sync_api import expect, sync_playwright

    director = ArtDirector(DummyLM({}, default=ANSWER), tuned=True, max_new_tokens=80)
    votes = VoteStore(tmp_path / "v.sqlite")
    server = loopback.serve(create_app(director, settings=ServeSettings(token="T"), votes=votes))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(server.url + "/")
            # the shipped vocabularies are offered as suggestions
            expect(page.locator("#vocab-style option").first).to_be_attached(timeout=10_000)
            assert page.locator("#images-box").is_hidden()  # no image model on this server
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


def test_images_as_typed_and_directed_with_an_image_vote(tmp_path, tiny, loopback):
    from playwright.sync_api import expect, sync_playwright

    from artdirector.imaging.base import GenerationSettings
    from artdirector.imaging.pipeline import ImageJob, ImageStages

    stages = ImageStages(ImageJob(tiny.sd, settings=GenerationSettings(steps=2, width=64, height=64),
                                  scorers={"clip": tiny.clip}), resident=True)
    director = ArtDirector(DummyLM({}, default=ANSWER), tuned=True, max_new_tokens=80)
    server = loopback.serve(create_app(director, settings=ServeSettings(token="T"),
                                       votes=VoteStore(tmp_path / "v.sqlite"), images=stages,
                                       images_dir=tmp_path / "served"))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(server.url + "/")
            expect(page.locator("#images-box")).to_be_visible(timeout=10_000)
            page.fill("#idea", "a red fox in snow")
            page.fill("#token", "T")
            page.fill("#per-prompt", "2")
            page.click("#go")
            directed = page.locator(".candidate:not(.original) figure img")
            expect(directed).to_have_count(2, timeout=120_000)
            expect(page.locator(".candidate.original figure img")).to_have_count(2)
            page.wait_for_function("[...document.querySelectorAll('figure img')].every(i => i.naturalWidth === 64)",
                                   timeout=30_000)  # every image fetched with the token and decoded
            assert "clip" in page.locator(".candidate:not(.original) figcaption").first.inner_text()
            expect(page.locator("figure.best")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "studio-images.png"), full_page=True)
            page.locator(".candidate:not(.original) .vote-image").first.click()
            expect(page.locator("#status")).to_contain_text("vote saved (1 in all)", timeout=10_000)
            directed_prompt = page.locator(".candidate:not(.original) .prompt").first.inner_text()
            browser.close()
        pairs = list(VoteStore(tmp_path / "v.sqlite").pairs())
        # the directed image of seed 0 preferred to the idea as typed with the same seed
        assert [(p["kind"], p["chosen"], p["rejected"], p["seed"]) for p in pairs] == [
            ("image", directed_prompt, "a red fox in snow", 0)]
    finally:
        server.stop()
        stages.close()
