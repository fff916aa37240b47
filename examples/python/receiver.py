"""A Passage webhook receiver in Python, verifying with PyJWT.

Every webhook carries a ``Passage-Verification`` header: a JWT signed with
ES256 by your account's key, which Passage publishes in your account's key
set, ``/v1/accounts/<your account id>/jwks.json``. Its claims:
``iat`` (when this attempt was signed), ``aud`` (your account id, ``acct_…``),
``livemode`` and ``request_body_sha256`` (the hex SHA-256 of the exact body
bytes). Check all of them, then parse the body.

    apt-get install -y python3-jwt python3-cryptography   # or: pip install 'pyjwt[crypto]'
    PASSAGE_URL=http://localhost:8000 PASSAGE_ACCOUNT_ID=acct_… python3 examples/python/receiver.py
"""

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

PASSAGE_URL = os.environ.get("PASSAGE_URL", "http://localhost:8000").rstrip("/")
ACCOUNT_ID = os.environ["PASSAGE_ACCOUNT_ID"]
LIVEMODE = os.environ.get("PASSAGE_LIVEMODE", "false") == "true"
MAX_AGE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024

# Your account's key set: fetched once, and again only for a kid it has not seen (after you
# rotate your key). Another account's rotation changes nothing in it.
jwks = jwt.PyJWKClient(f"{PASSAGE_URL}/v1/accounts/{ACCOUNT_ID}/jwks.json")


class Refused(Exception):
    """A webhook that did not verify: answer 400 and do not act on it."""


def verify(token, body):
    """Returns the event in ``body`` if ``token`` proves Passage sent it to this account."""
    if not token:
        raise Refused("missing_signature")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "ES256" or header.get("typ") != "JWT":
            raise Refused("unsupported_algorithm")
        # Another account's event is signed with a key your set does not hold: say so before
        # looking for it (the signed aud is checked again below).
        if jwt.decode(token, options={"verify_signature": False}).get("aud") != ACCOUNT_ID:
            raise Refused("wrong_audience")
        key = jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["ES256"],
            audience=ACCOUNT_ID,
            leeway=60,
            options={"require": ["iat", "aud", "request_body_sha256"]},
        )
    except jwt.InvalidAudienceError as err:
        raise Refused("wrong_audience") from err
    except jwt.PyJWKClientError as err:
        raise Refused("unknown_key") from err
    except jwt.InvalidSignatureError as err:
        raise Refused("invalid_signature") from err
    except jwt.InvalidTokenError as err:
        raise Refused("malformed_signature") from err
    if time.time() - claims["iat"] > MAX_AGE_SECONDS:
        raise Refused("stale_signature")
    if claims.get("livemode") is not LIVEMODE:
        raise Refused("wrong_mode")
    digest = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(digest, str(claims["request_body_sha256"]).lower()):
        raise Refused("body_mismatch")
    return json.loads(body)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/hook":
            self.send_response(404)
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_response(413)
            self.end_headers()
            return
        # The raw bytes, never a re-serialized body: the signature covers them.
        body = self.rfile.read(length)
        try:
            event = verify(self.headers.get("Passage-Verification"), body)
        except Refused as err:
            print(f"refused a webhook: {err}", flush=True)
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(err).encode())
            return
        # The id is the same on every retry: use it to ignore repeats.
        print(f"verified {event['type']} {event['id']}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass  # one line per webhook is printed above


def main():
    port = int(os.environ.get("PORT", "3000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"Receiving Passage webhooks on http://127.0.0.1:{server.server_port}/hook", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
