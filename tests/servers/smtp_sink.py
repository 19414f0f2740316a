"""A real SMTP server for the test suite (aiosmtpd), in two listeners:

- PLAIN: no TLS; AUTH allowed in the clear (a local relay).
- STARTTLS: STARTTLS required before AUTH and MAIL, with the certificate given.

Both require AUTH with USER/PASSWORD. Each delivered message is written to OUT as
<n>.json: {"mail_from", "rcpt_tos", "data", "authenticated"}. A recipient whose local part starts
with "reject" is refused with 550 (a permanent rejection).

Usage: smtp_sink.py PLAIN_PORT STARTTLS_PORT CERT KEY USER PASSWORD OUT
"""

import itertools
import json
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

plain_port, tls_port, cert, key, user, password, out = sys.argv[1:8]
counter = itertools.count(1)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].lower().startswith("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf8", errors="replace"),
            "authenticated": bool(session.authenticated),
        }
        path = os.path.join(out, "%d.json" % n)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

plain = Controller(Sink(), hostname="127.0.0.1", port=int(plain_port), authenticator=authenticator, auth_required=True, auth_require_tls=False)
secure = Controller(Sink(), hostname="127.0.0.1", port=int(tls_port), authenticator=authenticator, auth_required=True, require_starttls=True, tls_context=context)
plain.start()
secure.start()
print("ready", flush=True)
signal.pause()  # until the harness stops us
