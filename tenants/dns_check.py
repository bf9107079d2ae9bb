"""What DNS says about a custom domain: the verification TXT record and where the domain points.

Read-only (tenants.domains stores the outcome). The resolver is the system's unless
settings.DNS_NAMESERVERS names servers ("ip" or "ip:port"); the tests start a real DNS server
on loopback and point this at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from django.conf import settings

from tenants.selectors import cname_target, verification_record_name


@dataclass(frozen=True)
class DnsReport:
    """``txt_ok``: the token is published. ``problems``: codes that tenants.selectors.check_problems explains."""

    txt_ok: bool
    cname_ok: bool
    problems: list[str] = field(default_factory=list)


def resolver() -> dns.resolver.Resolver:
    configured = settings.DNS_NAMESERVERS
    result = dns.resolver.Resolver(configure=not configured)
    if configured:
        result.nameservers = [_nameserver(entry) for entry in configured]
    result.lifetime = settings.DNS_TIMEOUT_SECONDS
    result.timeout = min(2.0, settings.DNS_TIMEOUT_SECONDS)
    result.cache = None  # every check asks afresh: the customer has just changed the record
    return result


def _nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    address, port = entry, 53
    if entry.count(":") == 1:  # "ip:port"; a bare IPv6 address has several colons
        address, raw_port = entry.split(":")
        port = int(raw_port)
    elif entry.startswith("[") and "]:" in entry:  # "[ipv6]:port"
        address, raw_port = entry[1:].split("]:")
        port = int(raw_port)
    return dns.nameserver.Do53Nameserver(address, port)


def check(domain: str, token: str) -> DnsReport:
    """Ask DNS for ``_kompas-verify.<domain>`` TXT and for the domain's CNAME (or addresses)."""
    dns_resolver = resolver()
    txt_code = _txt_problem(dns_resolver, verification_record_name(domain), token)
    cname_code = None if txt_code in ("dns_timeout", "dns_error") else _cname_problem(dns_resolver, domain)
    problems = [code for code in (txt_code, cname_code) if code]
    return DnsReport(txt_ok=txt_code is None, cname_ok=cname_code is None and txt_code not in (
        "dns_timeout", "dns_error"), problems=problems)


def _txt_problem(dns_resolver: dns.resolver.Resolver, name: str, token: str) -> str | None:
    try:
        answer = dns_resolver.resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        return "txt_missing"
    except dns.resolver.NoAnswer:
        return "txt_missing"
    except dns.exception.Timeout:
        return "dns_timeout"
    except dns.exception.DNSException:  # SERVFAIL everywhere, refused, malformed answers
        return "dns_error"
    values = {b"".join(record.strings).decode("utf-8", "replace").strip() for record in answer}
    return None if token in values else "txt_wrong"


def _cname_problem(dns_resolver: dns.resolver.Resolver, domain: str) -> str | None:
    target = dns.name.from_text(cname_target())
    try:
        answer = dns_resolver.resolve(domain, "CNAME")
        return None if any(record.target == target for record in answer) else "cname_wrong"
    except dns.resolver.NXDOMAIN:
        return "domain_missing"
    except dns.resolver.NoAnswer:
        # An apex cannot have a CNAME; a provider's ALIAS/flattening gives it our addresses instead.
        return None if _same_addresses(dns_resolver, domain, target) else "cname_missing"
    except dns.exception.DNSException:
        return "dns_error"


def _same_addresses(dns_resolver: dns.resolver.Resolver, domain: str, target: dns.name.Name) -> bool:
    ours, theirs = set(), set()
    for kind in ("A", "AAAA"):
        try:
            ours |= {record.address for record in dns_resolver.resolve(target, kind)}
            theirs |= {record.address for record in dns_resolver.resolve(domain, kind)}
        except dns.exception.DNSException:
            continue
    return bool(ours) and bool(theirs & ours)
