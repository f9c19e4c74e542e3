"""Screenshots of each peer screen on a phone-sized Chromium, from a running demo stack (make run).

usage: .venv/bin/python deploy/demo/console_screenshots.py URL USER PASSWORD OUT_DIR
(the demo peer's password is the one `make run` printed). It accepts the demo peer's first offer and works it.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.browser import chromium  # noqa: E402


def main(url: str, user: str, password: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        d = chromium(Path(profile))
        try:
            def shot(name: str) -> None:
                d.save_screenshot(str(out / f"{name}.png"))
                print(out / f"{name}.png")

            def tap(css: str) -> None:
                element = d.find_element(By.CSS_SELECTOR, css)
                d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
                element.click()
                time.sleep(0.8)

            d.get(url + "/peer")
            shot("signin")
            d.find_element(By.ID, "username").send_keys(user)
            d.find_element(By.ID, "password").send_keys(password)
            tap("form[action='/signin'] button")
            shot("now")
            tap("#offers .offer a.button")
            shot("offer")
            tap("form[action$='/accept'] button")
            tap("form[action$='/arrive'] button")
            shot("case")
            tap("a[href$='/consent']")
            pad = d.find_element(By.ID, "pad")
            d.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
            ActionChains(d).move_to_element_with_offset(pad, -90, 15).click_and_hold().move_by_offset(40, -35) \
                .move_by_offset(30, 45).move_by_offset(40, -40).move_by_offset(50, 30).release().perform()
            tap("#confirm")
            shot("consent")
            tap("#sign button[type=submit]")
            tap("a[href$='/encounter']")
            shot("encounter")
            tap("form[action$='/encounter'] button[type=submit]")
            shot("case-done")
            tap("nav.tabs a[href='/peer/cases']")
            shot("cases")
            tap("nav.tabs a[href='/peer/shifts']")
            shot("shifts")
        finally:
            d.quit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
