#!/usr/bin/env python3
"""Capture what real SMTP clients send during AUTH, for the fuzz seed corpus.

A minimal SMTP server on 127.0.0.1 (ephemeral port) offers PLAIN, LOGIN, CRAM-MD5 and
XOAUTH2, sends RFC 2195's CRAM-MD5 challenge, and accepts everything. Each installed client
(swaks, curl, msmtp, gsasl, python smtplib) authenticates as tim / tanstaaftanstaaf (token
for XOAUTH2). The AUTH dialogue of each run is written to transcripts.txt as
`client MECH S|C base64-or-line`. Run: python3 fuzz/seeds/capture.py (seconds; bounded).
"""
import base64, os, shutil, socket, subprocess, sys, threading

CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"
USER, PASSWORD = "tim", "tanstaaftanstaaf"
TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
HERE = os.path.dirname(os.path.abspath(__file__))

log = []  # (mech, dir, text)


def serve(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=session, args=(conn,), daemon=True).start()


def session(conn):
    conn.settimeout(10)
    f = conn.makefile("rwb")

    def send(line):
        f.write(line.encode() + b"\r\n")
        f.flush()

    def recv():
        line = f.readline()
        if not line:
            raise EOFError
        return line.rstrip(b"\r\n").decode("latin-1")

    try:
        send("220 capture ESMTP")
        while True:
            line = recv()
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                send("250-capture")
                send("250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2")
                send("250 8BITMIME")
            elif verb == "AUTH":
                parts = line.split(" ")
                mech = parts[1].upper()
                log.append((mech, "C", line))
                ir = parts[2] if len(parts) > 2 else None
                if mech == "CRAM-MD5":
                    ch = base64.b64encode(CHALLENGE).decode()
                    log.append((mech, "S", "334 " + ch))
                    send("334 " + ch)
                    log.append((mech, "C", recv()))
                elif mech == "LOGIN":
                    if ir is None:
                        log.append((mech, "S", "334 VXNlcm5hbWU6"))
                        send("334 VXNlcm5hbWU6")
                        log.append((mech, "C", recv()))
                    log.append((mech, "S", "334 UGFzc3dvcmQ6"))
                    send("334 UGFzc3dvcmQ6")
                    log.append((mech, "C", recv()))
                elif ir is None:
                    log.append((mech, "S", "334 "))
                    send("334 ")
                    log.append((mech, "C", recv()))
                log.append((mech, "S", "235 2.7.0 Authentication successful"))
                send("235 2.7.0 Authentication successful")
            elif verb == "DATA":
                send("354 go ahead")
                while recv() != ".":
                    pass
                send("250 ok")
            elif verb == "QUIT":
                send("221 bye")
                return
            else:
                send("250 ok")
    except (EOFError, OSError):
        return
    finally:
        conn.close()


def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
    mail = "Subject: x\r\n\r\nx\r\n"
    runs = []
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        runs.append(("swaks", mech, ["swaks", "--server", f"127.0.0.1:{port}", "--auth", mech,
                                     "--auth-user", USER, "--auth-password", PASSWORD,
                                     "--quit-after", "AUTH"]))
        runs.append(("curl", mech, ["curl", "-s", f"smtp://127.0.0.1:{port}", "--mail-from",
                                    "a@example.com", "--mail-rcpt", "b@example.com", "-u",
                                    f"{USER}:{PASSWORD}", "--login-options", f"AUTH={mech}",
                                    "-T", "-"]))
        runs.append(("msmtp", mech, ["msmtp", "--host=127.0.0.1", f"--port={port}",
                                     f"--auth={mech.lower()}", f"--user={USER}",
                                     f"--passwordeval=echo {PASSWORD}", "--tls=off",
                                     "--from=a@example.com", "b@example.com"]))
        runs.append(("gsasl", mech, ["gsasl", "--smtp", "--connect", f"127.0.0.1:{port}",
                                     "--no-starttls", "-m", mech, "-a", USER, "-p", PASSWORD,
                                     "-d", "--quiet"]))
    runs.append(("curl", "XOAUTH2", ["curl", "-s", f"smtp://127.0.0.1:{port}", "--mail-from",
                                     "a@example.com", "--mail-rcpt", "b@example.com", "-u",
                                     f"{USER}:", "--oauth2-bearer", TOKEN, "--login-options",
                                     "AUTH=XOAUTH2", "-T", "-"]))
    runs.append(("msmtp", "XOAUTH2", ["msmtp", "--host=127.0.0.1", f"--port={port}",
                                      "--auth=xoauth2", f"--user={USER}",
                                      f"--passwordeval=echo {TOKEN}", "--tls=off",
                                      "--from=a@example.com", "b@example.com"]))
    out = []
    for client, mech, argv in runs:
        if shutil.which(argv[0]) is None:
            sys.exit(f"missing client {argv[0]} (install the Debian package {argv[0]})")
        del log[:]
        try:
            subprocess.run(argv, input=mail.encode(), timeout=20, capture_output=True)
        except subprocess.TimeoutExpired:
            print(f"{client} {mech}: timed out", file=sys.stderr)
        for m, d, text in log:
            out.append(f"{client} {m} {d} {text}")
        print(f"{client} {mech}: {len(log)} lines", file=sys.stderr)
    # python smtplib
    import smtplib
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        del log[:]
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo()
            s.user, s.password = USER, PASSWORD
            s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")),
                   initial_response_ok=(mech != "LOGIN"))
        for m, d, text in log:
            out.append(f"smtplib {m} {d} {text}")
    with open(os.path.join(HERE, "transcripts.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    sock.close()


if __name__ == "__main__":
    main()
