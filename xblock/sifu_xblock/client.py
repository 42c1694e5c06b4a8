"""A small client for Sifu's API, using only Python's standard library.

It is what the XBlock calls, server to server, with an API token that has the `launch` scope (to ask for
launch URLs) and the `courses` scope (to attach base notebooks from Studio).
"""

import json
import urllib.error
import urllib.parse
import urllib.request


class SifuError(Exception):
    """An error answer from Sifu, with its stable code (e.g. SIFU_ERR_MISSING_SCOPE)."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def client_from_settings(settings, timeout=10):
    """The client as the LMS operator configured it: URL and token both from `XBLOCK_SETTINGS`, never from a
    Studio field. A course author edits Studio fields; the token is LMS-wide (it may launch any learner), so
    the place it is sent must be the operator's choice too."""
    url = (settings or {}).get("SIFU_URL")
    token = (settings or {}).get("SIFU_API_TOKEN")
    if not url or not token:
        raise ValueError('XBLOCK_SETTINGS["SifuNotebookXBlock"] needs SIFU_URL and SIFU_API_TOKEN')
    return SifuClient(url, token, timeout=timeout)


class SifuClient:
    def __init__(self, base_url, token, timeout=10):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the Sifu URL must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            try:
                payload = json.loads(err.read().decode())
            except ValueError:
                payload = {}
            raise SifuError(err.code, payload.get("code", "SIFU_ERR_UNKNOWN"), payload.get("message", str(err))) from None

    @staticmethod
    def _segment(value):
        return urllib.parse.quote(value, safe="")

    def request_launch(self, username, course_id, unit_id, notebook=None):
        """Asks for a one-time launch URL for `username`; returns (url, expires_in seconds)."""
        body = {"username": username, "course_id": course_id, "unit_id": unit_id}
        if notebook:
            body["notebook"] = notebook
        answer = self._call("POST", "/hub/api/launch", body)
        return answer["url"], answer["expires_in"]

    def attach_notebook(self, course_id, unit_id, name, notebook):
        """Attaches an uploaded base notebook (a parsed nbformat 4 document) to a course unit."""
        path = f"/hub/api/courses/{self._segment(course_id)}/notebooks/{self._segment(name)}"
        return self._call("PUT", path, {"unit": unit_id, "notebook": notebook})

    def attach_git_notebook(self, course_id, unit_id, name, repo, repo_path, ref=None):
        """Attaches a base notebook fetched by Sifu from a git repository (private ones: Sifu's deployment token)."""
        git = {"repo": repo, "path": repo_path}
        if ref:
            git["ref"] = ref
        path = f"/hub/api/courses/{self._segment(course_id)}/notebooks/{self._segment(name)}"
        return self._call("PUT", path, {"unit": unit_id, "git": git})
