#!/usr/bin/python3
"""The hub on a server's own loopback (see docs/singleuser.md, "How the server reaches the hub").

A server runs without a network (its own network namespace: loopback only), so JupyterHub's
single-user code cannot reach the hub's TCP port. Sifu listens instead on a unix socket of this server's
own, bind-mounted into the sandbox, which answers only the calls a server makes for itself (its user,
its activity, the OAuth code exchange) and only with this server's token. This program makes that socket
reachable at the URL those clients expect (JUPYTERHUB_API_URL, http://127.0.0.1:<port>/hub/api): it
listens on the sandbox's loopback, pipes each connection to the socket byte for byte, then runs the
server command in its own place (exec), so that the command stays the sandbox's main process.

It runs as the learner, inside the learner's sandbox: it holds nothing the learner's own code could not
do, and it adds no way out (the socket is the only thing it reaches, and it checks nothing itself).

In a container, the server's secret variables (JUPYTERHUB_API_TOKEN) cannot travel in the container's
environment, which the engine records (`docker inspect`): Sifu writes them to a file only the server's
user can read, named by --env-file (a JSON object of strings), and this program sets them just before it
execs the command, so that they exist in the server's processes only.

Usage: hub-forward.py <port> <unix socket> [--env-file <path>] -- <command> [args...]
"""

import ctypes
import json
import os
import signal
import socket
import sys
import threading

MAX_CONNECTIONS = 64
BUFFER = 65536
PR_SET_PDEATHSIG = 1


def pipe(source, sink):
    try:
        while True:
            data = source.recv(BUFFER)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(listener, target, slots):
    while True:
        client, _ = listener.accept()
        if not slots.acquire(blocking=False):
            client.close()
            continue
        threading.Thread(target=relay, args=(client, target, slots), daemon=True).start()


def relay(client, target, slots):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(target)
        back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join()
    except OSError:
        pass
    finally:
        upstream.close()
        client.close()
        slots.release()


def read_env_file(path):
    with open(path) as f:
        variables = json.load(f)
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ValueError(f'{path} must hold a JSON object of strings')
    return variables


def main(argv):
    rest = argv[3:]
    env_file = None
    if rest[:1] == ['--env-file'] and len(rest) >= 2:
        env_file, rest = rest[1], rest[2:]
    if len(argv) < 3 or len(rest) < 2 or rest[0] != '--':
        sys.stderr.write('usage: hub-forward.py <port> <unix socket> [--env-file <path>] -- <command> [args...]\n')
        return 2
    port, target, command = int(argv[1]), argv[2], rest[1:]
    # Read first: a missing or malformed file stops the start here, with its reason in the log.
    extra_env = read_env_file(env_file) if env_file else {}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Bound before the command runs: its first call to the hub finds the port open.
    listener.bind(('127.0.0.1', port))
    listener.listen(MAX_CONNECTIONS)
    command_pid = os.getpid()
    if os.fork() == 0:
        # The forwarder; the parent becomes the command. The sandbox ends only once every process in it
        # has (bwrap's init waits for all), so the forwarder must not outlive the command: the kernel
        # kills it when its parent, the command, exits (checked once more, in case that came first).
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != command_pid:
            os._exit(0)
        serve(listener, target, threading.BoundedSemaphore(MAX_CONNECTIONS))
        os._exit(0)
    listener.close()
    os.environ.update(extra_env)
    os.execvp(command[0], command)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
