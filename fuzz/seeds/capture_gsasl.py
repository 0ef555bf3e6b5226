#!/usr/bin/env python3
"""Capture GNU SASL's client messages for SCRAM, ANONYMOUS and EXTERNAL, as server-target
seeds: gsasl's client (`gsasl --client`, line mode) is answered with the server-first message
the fuzz server targets produce (their fixed nonce `1896.697170952`, a salt and 16 iterations),
so that its client-final message verifies against `Answer::ScramKeys` derived from `pencil`.

Writes fuzz/corpus/server_<mech>/seed-gsasl-* in the server target's input format (see
src/fuzzing.rs: config bytes, then ops). Run: python3 fuzz/seeds/capture_gsasl.py (seconds).
"""
import base64, os, subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")
SALT = b"gsasl-capture-salt"
ITER_BYTE = 15  # 1 + 15 % 16 = 16 iterations
NONCE = "1896.697170952"


def blob(b):
    """A length-prefixed byte string (`Script::bytes`)."""
    n = len(b)
    return (bytes([n]) if n < 0x80 else bytes([0x80 | n >> 8, n & 0xFF])) + b


def gsasl(mech, extra, answers):
    """Run gsasl's client; feed it `answers(decoded_message)` per message; return its lines."""
    p = subprocess.Popen(
        ["gsasl", "--client", "--no-cb", "-d", "--quiet", "-m", mech, "-a", "user", "-p", "pencil"] + extra,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = []
    try:
        assert p.stdout.readline().strip() == mech
        line = p.stdout.readline().strip()
        out.append(line)
        for _ in range(3):
            reply = answers(base64.b64decode(line))
            if reply is None:
                break
            p.stdin.write(base64.b64encode(reply).decode() + "\n")
            p.stdin.flush()
            line = p.stdout.readline().strip()
            if not line:
                break
            out.append(line)
    finally:
        p.kill()
        p.wait(timeout=5)
    return out


def scram(mech, hash_byte, extra, name):
    def answers(msg):
        if msg.startswith((b"n,", b"y,")):
            cnonce = msg.split(b",r=")[1].split(b",")[0]
            return b"r=" + cnonce + NONCE.encode() + b",s=" + base64.b64encode(SALT) + b",i=16"
        return None
    lines = gsasl(mech, extra, answers)
    data = bytes([0x03, 0x00]) + bytes([2]) + blob(lines[0].encode())
    data += bytes([6, 8, hash_byte]) + blob(b"pencil") + blob(SALT) + bytes([ITER_BYTE])
    for l in lines[1:2]:
        data += bytes([5]) + blob(l.encode())
    target = "server_" + mech.lower().replace("-", "_")
    with open(os.path.join(CORPUS, target, "seed-gsasl-" + name), "wb") as f:
        f.write(data)
    return lines


for mech, h in [("SCRAM-SHA-1", 0), ("SCRAM-SHA-256", 1)]:
    print(mech, scram(mech, h, [], "plain"))
    print(mech, scram(mech, h, ["-z", "admin"], "authzid"))
for mech, extra, b in [("ANONYMOUS", ["--anonymous-token=fuzz@example.net"], 0), ("EXTERNAL", [], 0x20)]:
    lines = gsasl(mech, extra, lambda m: None)
    print(mech, lines)
    data = bytes([0x03, b, 2]) + blob((lines[0] or "").encode())
    with open(os.path.join(CORPUS, "server_" + mech.lower(), "seed-gsasl"), "wb") as f:
        f.write(data)
