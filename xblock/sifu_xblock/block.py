"""The XBlock itself. It needs the Open edX XBlock runtime (the `xblock` and `web_fragments` packages),
which is not installable in Sifu's development environment; its logic lives in `client.py` and `render.py`,
which the tests exercise against a running Sifu."""

import json

from web_fragments.fragment import Fragment  # noqa: provided by the Open edX runtime
from xblock.core import XBlock  # noqa: provided by the Open edX runtime
from xblock.fields import Integer, Scope, String

from .client import SifuError, client_from_settings
from .render import error_html, iframe_html


class SifuNotebookXBlock(XBlock):
    """Shows the learner's own copy of the unit's notebook, in their own server, in an iframe."""

    display_name = String(display_name="Display name", default="Notebook", scope=Scope.settings)
    notebook_name = String(display_name="Notebook file name", default="notebook.ipynb", scope=Scope.settings)
    notebook_upload = String(display_name="Uploaded notebook (JSON)", default="", scope=Scope.settings)
    git_repo = String(display_name="Git repository (HTTPS)", default="", scope=Scope.settings)
    git_path = String(display_name="Path of the notebook in the repository", default="", scope=Scope.settings)
    height = Integer(display_name="Height (px)", default=720, scope=Scope.settings)

    editable_fields = ("display_name", "notebook_name", "notebook_upload", "git_repo", "git_path", "height")

    def _client(self):
        # Sifu's URL and the LMS-wide token both come from the LMS settings (XBLOCK_SETTINGS): a Studio field
        # for the URL would let any course author send the token to a host of their choosing.
        return client_from_settings(self.runtime.service(self, "settings").get_settings_bucket(self))

    def _ids(self):
        return str(self.runtime.course_id), str(self.scope_ids.usage_id)

    def student_view(self, context=None):
        user = self.runtime.service(self, "user").get_current_user()
        username = user.opt_attrs.get("edx-platform.username")
        course_id, unit_id = self._ids()
        try:
            url, _ = self._client().request_launch(username, course_id, unit_id, self.notebook_name)
            return Fragment(iframe_html(url, self.display_name, self.height))
        except (SifuError, OSError, ValueError):
            return Fragment(error_html("The notebook cannot be opened right now. Please reload the page."))

    @XBlock.json_handler
    def sync_notebook(self, data, suffix=""):
        """Attaches the configured notebook to this unit in Sifu (staff only; called from Studio after saving)."""
        if not self.runtime.user_is_staff:
            return {"ok": False, "error": "staff only"}
        course_id, unit_id = self._ids()
        client = self._client()
        try:
            if self.notebook_upload:
                client.attach_notebook(course_id, unit_id, self.notebook_name, json.loads(self.notebook_upload))
            elif self.git_repo and self.git_path:
                client.attach_git_notebook(course_id, unit_id, self.notebook_name, self.git_repo, self.git_path)
            else:
                return {"ok": False, "error": "upload a notebook or name a git repository and path"}
        except SifuError as err:
            return {"ok": False, "error": err.message, "code": err.code}
        except ValueError:
            return {"ok": False, "error": "the uploaded notebook is not JSON"}
        return {"ok": True}
