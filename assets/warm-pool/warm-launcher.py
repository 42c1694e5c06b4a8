#!/usr/bin/env python3
"""A warm-pool server: a notebook server fully started before its learner is known (see docs/pool.md).

Started in a pool container before any learner is known. It runs a complete notebook server (NotebookApp
6.x), listening on the unix socket $SIFU_SERVER_SOCKET (in the slot's socket directory, bind-mounted from
the host: the container has no network) under a placeholder base URL ($SIFU_POOL_BASE_URL, e.g.
/sifu-pool-<slot>/) with the pool token that Sifu wrote to $SIFU_CLAIM_TOKEN_FILE (a read-only mount: the
token is never in argv or env, so `docker inspect` and `ps` show nothing). Its root is the learner's home
path, an empty directory until the claim bind-mounts a home onto it.

Sifu claims the server by writing the learner's secret to $SIFU_CLAIM_SECRET_FILE (same read-only mount)
and sending one request:
  POST <placeholder base URL>sifu-claim   Authorization: token <pool token>
  {"baseUrl": "/user/ada/", "nonce": "<random hex>"}
and the launcher, in that request, rebuilds Jupyter's tornado application for the learner's base URL and
secret and swaps it into the listening HTTP server. The claim answers once the server serves the learner,
with {"proof": HMAC-SHA256(pool token, nonce + baseUrl)}: Sifu sends the learner's secret (the proxy's
requests) only to a socket proven to be this server's. Only Sifu and this container can open the socket's
directory; the proof stays as a second line. The placeholder routes, the pool token and the claim endpoint
are gone with the old application.

Usage: warm-launcher.py [extra NotebookApp arguments...]
"""

import hashlib
import hmac
import json
import os
import sys
import time

placeholder = os.environ['SIFU_POOL_BASE_URL']
socket_path = os.environ['SIFU_SERVER_SOCKET']
token_file = os.environ['SIFU_CLAIM_TOKEN_FILE']
secret_file = os.environ['SIFU_CLAIM_SECRET_FILE']
root = os.environ.get('SIFU_SERVER_ROOT', '/home/learner')

# Initialising creates ~/.ipython; before the claim, home is the slot's own empty mount point, which must
# stay empty (the slot is removed with rmdir only). Kernels, started after the claim, get the real one.
os.environ['IPYTHONDIR'] = '/run/sifu/ipython'

from notebook.notebookapp import DEFAULT_NOTEBOOK_PORT, NotebookApp  # noqa: E402
from notebook.utils import url_path_join  # noqa: E402
from tornado import ioloop, web  # noqa: E402
from tornado.routing import PathMatches, Rule  # noqa: E402

with open(token_file) as f:
    pool_token = f.read().strip()
if len(pool_token) < 32:
    sys.exit('warm-launcher: the pool token is missing or too short')

app = NotebookApp.instance()
# Set before initialize: init_webapp copies it into the tornado settings.
app.token = pool_token
app.initialize([
    '--no-browser', f'--sock={socket_path}', f'--notebook-dir={root}',
    f'--NotebookApp.base_url={placeholder}', '--NotebookApp.allow_origin=*',
    '--NotebookApp.quit_button=False', *sys.argv[1:],
])

del os.environ['IPYTHONDIR']
claimed = False


def rebind(base_url, token):
    """Makes the running server the learner's: a new tornado application for `base_url` and `token`,
    built the way NotebookApp.init_webapp builds it, swapped into the listening HTTP server."""
    # Until now the process sat in / (a cwd inside the home would be the empty slot under the mount);
    # kernels and terminals started without a path inherit this cwd: the learner's home, mounted by now.
    os.chdir(root)
    old_base = app.base_url
    app.base_url = base_url
    # init_webapp prefixed default_url with the placeholder; take it off again.
    if app.default_url.startswith(old_base):
        app.default_url = '/' + app.default_url[len(old_base):]
    app.token = token
    server = app.http_server
    # init_webapp set the port to 0 for the socket, and refuses a socket beside any non-default port.
    app.port = DEFAULT_NOTEBOOK_PORT
    app.init_webapp()  # a new web_app, and a new (unbound, discarded) HTTPServer
    app.http_server = server
    server.request_callback = app.web_app
    app.init_terminals()
    app.init_server_extensions()
    app.write_server_info_file()


class ClaimHandler(web.RequestHandler):
    """The one-time claim (see the module docstring); outside Jupyter's auth, checked against the pool
    token. Only served by the placeholder application, which the claim replaces."""

    def check_xsrf_cookie(self):
        pass  # authenticated by the Authorization header, never by a cookie

    def post(self):
        global claimed
        expected = f'token {pool_token}'.encode()
        given = self.request.headers.get('Authorization', '').encode()
        if claimed or not hmac.compare_digest(given, expected):
            raise web.HTTPError(403)
        claim = json.loads(self.request.body)
        base_url, nonce = claim['baseUrl'], claim['nonce']
        if not (isinstance(base_url, str) and base_url.startswith('/') and base_url.endswith('/')):
            raise web.HTTPError(400, 'bad baseUrl')
        with open(secret_file) as f:
            token = f.read().strip()
        if not (isinstance(nonce, str) and len(nonce) >= 16 and len(token) >= 16):
            raise web.HTTPError(400, 'bad claim')
        claimed = True
        t0 = time.perf_counter()
        rebind(base_url, token)
        ms = (time.perf_counter() - t0) * 1000
        sys.stderr.write(f'warm-launcher: claimed for {base_url} ({ms:.0f} ms)\n')
        sys.stderr.flush()
        self.set_header('Content-Type', 'application/json')
        proof = hmac.new(pool_token.encode(), (nonce + base_url).encode(), hashlib.sha256).hexdigest()
        self.finish(json.dumps({'proof': proof, 'ms': round(ms, 1)}))


# First in the placeholder application's routes (before its catch-all 404); gone with it at the claim.
router = app.web_app.wildcard_router
claim_rule = Rule(PathMatches(url_path_join(placeholder, 'sifu-claim')), ClaimHandler)
router.rules.insert(0, router.process_rule(claim_rule))


def announce():
    # Runs once the IOLoop runs, i.e. after start() has bound the socket: the server answers from now on.
    sys.stderr.write('warm-launcher: ready for a claim\n')
    sys.stderr.flush()


ioloop.IOLoop.current().add_callback(announce)
app.start()
