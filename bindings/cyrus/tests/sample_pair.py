#!/usr/bin/env python3
"""Drive Debian's unmodified sasl-sample-server and sasl-sample-client against each other.

The server reads the client's "C: " lines on stdin and writes "S: " lines; the client reads the
password from its terminal, so it runs in a pty. This relays the lines between them, answers
the password prompt, and stops both within the deadline.

  sample_pair.py --server-path DIR --client-path DIR --conf DIR --mech MECH --user USER
                 --password PASSWORD [--timeout SECONDS]

The server loads its plugins from --server-path (-p), the client from --client-path (SASL_PATH);
both read CONF/sample.conf (SASL_CONF_PATH). Prints the transcript, then one line
"RESULT server_rc=N server_user=NAME"; exits 0 when the run finished within the deadline.
"""
import argparse
import os
import pty
import select
import signal
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    for name in ("server-path", "client-path", "conf", "mech", "user", "password"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()

    env = dict(os.environ, SASL_CONF_PATH=a.conf, SASL_PATH=a.client_path)
    server = subprocess.Popen(
        ["stdbuf", "-oL", "sasl-sample-server", "-p", a.server_path, "-s", "smtp",
         "-m", a.mech, "-d", "localhost", "-u", "localhost"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("sasl-sample-client",
                   ["sasl-sample-client", "-s", "smtp", "-n", "localhost", "-m", a.mech,
                    "-a", a.user, "-u", a.user], env)

    deadline = time.monotonic() + a.timeout
    client_buf = b""
    server_buf = b""
    server_user = "-"
    client_open = True
    password_sent = False
    server_open = True
    # The run is over when the server exits (the client then waits for input that never
    # comes: it is stopped below).
    while time.monotonic() < deadline and server_open:
        fds = ([fd] if client_open else []) + ([server.stdout] if server_open else [])
        ready, _, _ = select.select(fds, [], [], 0.2)
        if fd in ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                client_open = False
            client_buf += data
            if not password_sent and b"Password:" in client_buf:
                os.write(fd, a.password.encode() + b"\n")
                password_sent = True
            while b"\n" in client_buf:
                line, client_buf = client_buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                print("[client] " + line.decode(errors="replace"))
                if line.startswith(b"C: ") and server.poll() is None:
                    try:
                        server.stdin.write(line + b"\n")
                        server.stdin.flush()
                    except BrokenPipeError:
                        pass
        if server.stdout in ready:
            data = os.read(server.stdout.fileno(), 4096)
            if not data:
                server_open = False
            server_buf += data
            while b"\n" in server_buf:
                line, server_buf = server_buf.split(b"\n", 1)
                print("[server] " + line.decode(errors="replace"))
                if line.startswith(b"Username: "):
                    server_user = line[len(b"Username: "):].decode(errors="replace")
                if line.startswith(b"S: ") and client_open:
                    try:
                        os.write(fd, line + b"\n")
                    except OSError:
                        pass
    finished = not server_open
    for p in (server.pid, pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server_rc = server.wait()
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    print("RESULT server_rc=%d server_user=%s" % (server_rc, server_user))
    if not finished:
        print("the server did not finish within %s s" % a.timeout)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
