"""The XBlock's client and renderer against a running Sifu (started by test/xblock.test.ts).

Environment: SIFU_URL (the hub), SIFU_TOKEN (scopes launch + courses), SIFU_LEARNER_TOKEN (no launch scope).
"""

import os
import unittest
import urllib.error
import urllib.request

from sifu_xblock.client import SifuClient, SifuError
from sifu_xblock.render import error_html, iframe_html

COURSE = "course-v1:Org+CS101+2026"
UNIT = "block-v1:Org+CS101+2026+type@sifu+block@intro"
NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["1+1"]}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def open_without_redirects(url):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


@unittest.skipUnless(os.environ.get("SIFU_URL"), "needs a running Sifu: run test/xblock.test.ts")
class ClientAgainstSifu(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = SifuClient(os.environ["SIFU_URL"], os.environ["SIFU_TOKEN"])
        cls.client.attach_notebook(COURSE, UNIT, "intro.ipynb", NOTEBOOK)

    def test_launch_url_is_single_use(self):
        url, expires_in = self.client.request_launch("ada", COURSE, UNIT, "intro.ipynb")
        self.assertTrue(url.startswith(os.environ["SIFU_URL"] + "/hub/launch/"))
        self.assertGreater(expires_in, 0)
        status, headers, _ = open_without_redirects(url)
        self.assertEqual(status, 303)
        self.assertIn("sifu-hub-session=", headers.get("Set-Cookie", ""))
        self.assertIn("/hub/spawn/ada", headers.get("Location", ""))
        replay_status, _, body = open_without_redirects(url)
        self.assertEqual(replay_status, 403)
        self.assertIn("SIFU_ERR_LAUNCH_INVALID", body)

    def test_unknown_unit_is_refused(self):
        with self.assertRaises(SifuError) as caught:
            self.client.request_launch("ada", COURSE, "block-v1:Org+CS101+2026+type@sifu+block@nope")
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(caught.exception.code, "SIFU_ERR_COURSE_UNIT_NOT_FOUND")

    def test_a_token_without_the_launch_scope_is_refused(self):
        learner = SifuClient(os.environ["SIFU_URL"], os.environ["SIFU_LEARNER_TOKEN"])
        with self.assertRaises(SifuError) as caught:
            learner.request_launch("ada", COURSE, UNIT)
        self.assertEqual(caught.exception.status, 403)
        self.assertEqual(caught.exception.code, "SIFU_ERR_MISSING_SCOPE")

    def test_a_bad_user_name_is_refused(self):
        with self.assertRaises(SifuError) as caught:
            self.client.request_launch("../etc", COURSE, UNIT)
        self.assertEqual(caught.exception.code, "SIFU_ERR_INVALID_USERNAME")

    def test_a_file_that_is_not_a_notebook_is_refused(self):
        with self.assertRaises(SifuError) as caught:
            self.client.attach_notebook(COURSE, UNIT, "bad.ipynb", {"cells": "nope"})
        self.assertEqual(caught.exception.status, 400)


class Rendering(unittest.TestCase):
    def test_iframe_escapes_its_inputs(self):
        fragment = iframe_html('https://sifu.example/hub/launch/abc"><script>', "<Lesson>", 500)
        self.assertNotIn("<script>", fragment)
        self.assertIn("&lt;Lesson&gt;", fragment)
        self.assertIn("height:500px", fragment)

    def test_error_is_escaped(self):
        self.assertNotIn("<b>", error_html("<b>oops</b>"))

    def test_client_refuses_a_non_http_url(self):
        with self.assertRaises(ValueError):
            SifuClient("file:///etc/passwd", "t")


if __name__ == "__main__":
    unittest.main()
