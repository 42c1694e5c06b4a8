"""The XBlock class, run against fakes of the Open edX runtime (`xblock`, `web_fragments`): the real runtime
cannot be installed here. The fakes are stand-ins named as such; what is tested is the block's own logic."""

import sys
import types
import unittest
from unittest import mock


def _install_fake_runtime():
    """Minimal fake modules: fields keep their default, the XBlock base class and its decorator do nothing."""

    class FakeField:
        def __init__(self, display_name="", default=None, scope=None):
            self.default = default

        def __set_name__(self, owner, name):
            self.name = name

        def __get__(self, obj, owner):
            if obj is None:
                return self
            return obj.__dict__.get(self.name, self.default)

        def __set__(self, obj, value):
            obj.__dict__[self.name] = value

    class FakeXBlock:
        json_handler = staticmethod(lambda f: f)

    fields = types.ModuleType("xblock.fields")
    fields.Integer = fields.String = FakeField
    fields.Scope = types.SimpleNamespace(settings="settings", user_state="user_state")
    core = types.ModuleType("xblock.core")
    core.XBlock = FakeXBlock
    fragment = types.ModuleType("web_fragments.fragment")
    fragment.Fragment = lambda html: html
    for name, module in {
        "xblock": types.ModuleType("xblock"),
        "xblock.core": core,
        "xblock.fields": fields,
        "web_fragments": types.ModuleType("web_fragments"),
        "web_fragments.fragment": fragment,
    }.items():
        sys.modules.setdefault(name, module)


_install_fake_runtime()
from sifu_xblock.block import SifuNotebookXBlock  # noqa: E402


def _block(settings):
    block = SifuNotebookXBlock()
    service = types.SimpleNamespace(get_settings_bucket=lambda _block: settings)
    block.runtime = types.SimpleNamespace(service=lambda _block, _name: service)
    return block


class TokenStaysWithTheOperator(unittest.TestCase):
    def test_no_studio_field_names_where_the_token_goes(self):
        for name in SifuNotebookXBlock.editable_fields:
            self.assertNotIn("url", name.lower())
            self.assertNotIn("token", name.lower())
        self.assertFalse(hasattr(SifuNotebookXBlock, "sifu_url"))

    def test_the_client_uses_the_lms_settings_only(self):
        block = _block({"SIFU_URL": "https://sifu.operator.example", "SIFU_API_TOKEN": "t0k"})
        # A course author setting an attribute of that name changes nothing.
        block.__dict__["sifu_url"] = "https://attacker.example"
        client = block._client()
        self.assertEqual(client.base_url, "https://sifu.operator.example")
        self.assertEqual(client.token, "t0k")

    def test_missing_settings_are_an_error_not_a_guess(self):
        with self.assertRaises(ValueError):
            _block({"SIFU_API_TOKEN": "t0k"})._client()

    def test_the_learner_sees_a_friendly_error_when_settings_are_missing(self):
        block = _block({})
        user = types.SimpleNamespace(opt_attrs={"edx-platform.username": "ada"})
        services = {"user": types.SimpleNamespace(get_current_user=lambda: user)}
        block.runtime = types.SimpleNamespace(
            service=lambda _b, name: services.get(name, types.SimpleNamespace(get_settings_bucket=lambda _b: {})),
            course_id="course-v1:x+y+z",
        )
        block.scope_ids = types.SimpleNamespace(usage_id="block-v1:x")
        with mock.patch("sifu_xblock.block.client_from_settings", side_effect=ValueError("missing")):
            html = block.student_view()
        self.assertIn("cannot be opened", html)


if __name__ == "__main__":
    unittest.main()
