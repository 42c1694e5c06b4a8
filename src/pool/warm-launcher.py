#!/usr/bin/env python3
"""A warm-pool server: imports Jupyter ahead, then waits for its learner (see docs/pool.md).

Started in a pool container before any learner is known. It does the slow part of a Jupyter start at once
(importing the notebook package and its dependencies, about a second) and then blocks reading the claim
FIFO named by SIFU_CLAIM_FIFO. Sifu claims the server by bind-mounting the learner's home onto the slot
(the container sees it through mount propagation) and writing one JSON line to the FIFO:
  {"baseUrl": "/user/ada/", "port": 45678}
and the token file (SIFU_CLAIM_TOKEN_FILE, on the same read-only mount) holds the learner's secret.
The launcher then finishes the notebook server's start in this very process: the token never travels in
argv or env.

Usage: warm-launcher.py [extra NotebookApp arguments...]
"""

import json
import os
import sys

fifo = os.environ['SIFU_CLAIM_FIFO']
token_file = os.environ['SIFU_CLAIM_TOKEN_FILE']
root = os.environ.get('SIFU_SERVER_ROOT', '/home/learner')

from notebook.notebookapp import NotebookApp  # noqa: E402  (the slow import, done before the claim)
import notebook.services.contents.largefilemanager  # noqa: E402,F401
import ipykernel  # noqa: E402,F401

# Everything that does not depend on the learner is initialised now (notebook 6.x's own order, see
# NotebookApp.initialize); what does (base URL, port, token) is set at the claim, then the web app is made.
app = NotebookApp.instance()
app._init_asyncio_patch()
super(NotebookApp, app).initialize([
    '--no-browser', '--ip=127.0.0.1', f'--notebook-dir={root}', '--NotebookApp.allow_origin=*',
    '--NotebookApp.port_retries=0', '--NotebookApp.quit_button=False', '--allow-root', *sys.argv[1:],
])
app.init_logging()
app.init_resources()
app.init_configurables()
app.init_server_extension_config()
app.init_components()

sys.stderr.write('warm-launcher: ready for a claim\n')
sys.stderr.flush()
with open(fifo) as claim_pipe:
    claim = json.loads(claim_pipe.readline())
os.environ['SIFU_SERVER_BASE_URL'] = claim['baseUrl']
os.environ['SIFU_SERVER_PORT'] = str(claim['port'])
with open(token_file) as f:
    app.token = f.read().strip()
app.base_url = claim['baseUrl']
app.port = int(claim['port'])
sys.stderr.write(f'warm-launcher: claimed for {app.base_url} on port {app.port}\n')
sys.stderr.flush()
app.init_webapp()
app.init_terminals()
app.init_signal()
app.init_server_extensions()
app.init_mime_overrides()
app.init_shutdown_no_activity()
app.start()
