"""A real DNS server on 127.0.0.1 (dnslib) for tests of the custom-domain checks.

It answers over UDP from a small in-memory zone: the records a test adds, NOERROR with no
answer for a name that exists with other types, NXDOMAIN for a name it does not know, SERVFAIL
for names marked broken. ``silent_nameserver`` is a UDP socket that never answers (timeouts).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Zone(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[RR]] = {}
        self.broken: set[str] = set()
        self.queries: list[tuple[str, str]] = []

    def add(self, zone_line: str) -> None:
        """One record in zone-file syntax, e.g. ``crm.example.com. 60 IN CNAME portals.kompas.test.``."""
        for record in RR.fromZone(zone_line):
            self.records.setdefault(_name(record.rname), []).append(record)

    def clear(self) -> None:
        self.records.clear()
        self.broken.clear()

    def resolve(self, request, handler):
        reply = request.reply()
        name, qtype = _name(request.q.qname), QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        if name in self.broken:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        seen = set()
        while name in self.records and name not in seen:  # follow CNAMEs inside the zone, like a resolver
            seen.add(name)
            records = self.records[name]
            matching = [record for record in records if QTYPE[record.rtype] == qtype]
            if matching:
                for record in matching:
                    reply.add_answer(record)
                return reply
            cname = next((record for record in records if QTYPE[record.rtype] == "CNAME"), None)
            if cname is None:
                return reply  # the name exists, without this type: NOERROR, no answer
            reply.add_answer(cname)
            name = _name(cname.rdata.label)
        if not reply.rr:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _name(label) -> str:
    return str(label).rstrip(".").lower()


@contextmanager
def dns_server() -> Iterator[tuple[Zone, str]]:
    """Start the server on a free UDP port of 127.0.0.1; yields the zone and "127.0.0.1:port"."""
    zone = Zone()
    server = DNSServer(zone, address="127.0.0.1", port=0,
                       logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False))
    server.start_thread()
    try:
        yield zone, f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()
        server.server.server_close()


@contextmanager
def silent_nameserver() -> Iterator[str]:
    """A UDP port on loopback that receives queries and never answers them."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"
