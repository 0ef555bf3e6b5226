#!/usr/bin/env python3
"""The SCRAM-SHA-512 test vectors of tests/scram_sha512.rs, computed independently of saslmech
with Python's hashlib and hmac (RFC 5802 §3 with SHA-512, draft-melnikov-scram-sha-512).

The inputs are RFC 7677's example (user "user", password "pencil", its nonces and salt) with
the draft's 10000 iterations; the -PLUS vector binds to tls-exporter data 0x00..0x1f (32 octets, RFC 9266).
Run: python3 scripts/scram-sha512-vectors.py
"""
import base64
import hashlib
import hmac

H = "sha512"
USER, PASSWORD = "user", b"pencil"
CNONCE, SNONCE = "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT_B64, ITERATIONS = "W22ZaJ0SNY7soEsUEjb6gQ==", 10000


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


salted = hashlib.pbkdf2_hmac(H, PASSWORD, base64.b64decode(SALT_B64), ITERATIONS)
client_key = hmac.new(salted, b"Client Key", H).digest()
stored_key = hashlib.new(H, client_key).digest()
server_key = hmac.new(salted, b"Server Key", H).digest()
print("salted   ", salted.hex())
print("stored   ", stored_key.hex())
print("server   ", server_key.hex())
print("rfc5803   SCRAM-SHA-512$%d:%s$%s:%s" % (ITERATIONS, SALT_B64, b64(stored_key), b64(server_key)))

for name, header, cb_data in [
    ("SCRAM-SHA-512", b"n,,", b""),
    ("SCRAM-SHA-512-PLUS", b"p=tls-exporter,,", bytes(range(32))),
]:
    first_bare = "n=%s,r=%s" % (USER, CNONCE)
    client_first = header.decode() + first_bare
    server_first = "r=%s%s,s=%s,i=%d" % (CNONCE, SNONCE, SALT_B64, ITERATIONS)
    final_bare = "c=%s,r=%s%s" % (b64(header + cb_data), CNONCE, SNONCE)
    auth = ",".join([first_bare, server_first, final_bare]).encode()
    signature = hmac.new(stored_key, auth, H).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_signature = hmac.new(server_key, auth, H).digest()
    print(name)
    print("  client_first ", client_first)
    print("  server_first ", server_first)
    print("  client_final ", "%s,p=%s" % (final_bare, b64(proof)))
    print("  server_final ", "v=%s" % b64(server_signature))
