#!/usr/bin/env python3
"""A stand-in for a single-user Jupyter server, for the spawner contract (src/spawner/contract.case.ts).

Python rather than Node so that every backend can run it: the notebook images have python3, not node.
Only the standard library is used. It reads what a real server reads: SIFU_SERVER_SOCKET (a unix
socket to listen on; when unset, 127.0.0.1:SIFU_SERVER_PORT), SIFU_SERVER_BASE_URL, SIFU_SERVER_ROOT (default: the working directory) and JUPYTER_TOKEN (or, as
Jupyter does, the file named by JUPYTER_TOKEN_FILE: the container backends pass the token that way).

Usage: fake-server.py MODE, where MODE is one of
  fast                 answers at once (the double for tests where real Jupyter is not the point)
  slow                 starts answering after SLOW_START_SECONDS
  never-ready          runs but never listens
  crash-at-start       writes a line to stderr and exits with code 3 at once
  crash-while-running  answers like `fast`; exits with code 7 after answering GET <base>crash
  ignores-sigterm      answers like `fast` but ignores SIGTERM, so only a forced stop ends it

It serves, with `Authorization: token <JUPYTER_TOKEN>` only (else 403, as Jupyter does):
  GET <base>api            {"version": "fake"}
  GET <base>api/status     {"started": ...}
  GET <base>api/contents/  the root directory's visible entries, shaped like Jupyter's contents API
Each request is logged to stderr, as Jupyter does: a server whose stderr was a pipe to a parent that
died then fails, which the local spawner's survival test relies on.
"""

import hmac
import json
import os
import signal
import sys
import time
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_START_SECONDS = 1.0
MODES = ('fast', 'slow', 'never-ready', 'crash-at-start', 'crash-while-running', 'ignores-sigterm')

mode = sys.argv[1] if len(sys.argv) > 1 else 'fast'
if mode not in MODES:
    sys.exit(f'fake-server: unknown mode {mode!r}, expected one of {", ".join(MODES)}')

socket_path = os.environ.get('SIFU_SERVER_SOCKET', '')
port = 0 if socket_path else int(os.environ['SIFU_SERVER_PORT'])
base = os.environ['SIFU_SERVER_BASE_URL']
root = os.environ.get('SIFU_SERVER_ROOT') or os.getcwd()
token = os.environ.get('JUPYTER_TOKEN', '')
if not token and os.environ.get('JUPYTER_TOKEN_FILE'):
    with open(os.environ['JUPYTER_TOKEN_FILE']) as token_file:
        token = token_file.read().strip()
started = time.time()


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        authorization = self.headers.get('Authorization', '')
        if not token or not hmac.compare_digest(authorization, f'token {token}'):
            return self.reply(403, {'message': 'Forbidden'})
        if self.path == f'{base}api':
            return self.reply(200, {'version': 'fake'})
        if self.path == f'{base}api/status':
            return self.reply(200, {'started': started, 'mode': mode})
        if self.path == f'{base}api/contents/':
            names = sorted(n for n in os.listdir(root) if not n.startswith('.'))
            content = [{'name': n, 'path': n, 'type': 'directory' if os.path.isdir(os.path.join(root, n)) else 'file'}
                       for n in names]
            return self.reply(200, {'name': '', 'path': '', 'type': 'directory', 'content': content})
        if mode == 'crash-while-running' and self.path == f'{base}crash':
            self.reply(200, {'crashing': True})
            self.wfile.flush()
            sys.stderr.write('fake-server: crashing while running, as asked\n')
            sys.stderr.flush()
            os._exit(7)
        return self.reply(404, {'message': 'Not Found'})

    def address_string(self):
        # A unix peer has no (host, port): the default would fail on its '' address.
        return self.client_address[0] if isinstance(self.client_address, tuple) else 'unix'

    def log_message(self, format, *args):
        sys.stderr.write(f'{self.address_string()} - - {format % args}\n')

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    where = f'socket {socket_path}' if socket_path else f'port {port}'
    sys.stderr.write(f'fake-server: mode {mode}, pid {os.getpid()}, {where}, base {base}\n')
    sys.stderr.flush()
    if mode == 'crash-at-start':
        sys.stderr.write('fake-server: crashing at start, as asked\n')
        sys.exit(3)
    if mode == 'never-ready':
        while True:
            time.sleep(3600)
    if mode == 'slow':
        time.sleep(SLOW_START_SECONDS)
    if mode == 'ignores-sigterm':
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if socket_path:
        server = UnixServer(socket_path, Handler)
    else:
        server = ThreadingHTTPServer(('127.0.0.1', port), Handler)
        server.daemon_threads = True
    server.serve_forever()


main()
