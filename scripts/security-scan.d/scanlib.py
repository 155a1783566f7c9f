#!/usr/bin/env python3
"""Helpers for scripts/security-scan: a page of links and forms for wapiti,
and the checks that turn each scanner's raw report into pass or fail.

Standard library only (python3 comes with sqlmap and wapiti). Each check
prints what it looked at and exits 1 on a finding, on a report that does
not parse, or on a run that attacked nothing.

    scanlib.py forms-page OUT.html BASE CURSOR REFRESH_TOKEN USER PASSWORD
    scanlib.py serve DIR PORTFILE          # static files on 127.0.0.1:0
    scanlib.py requests SERVER_LOG PREFIX  # requests a tool sent, by route and status
    scanlib.py sqlmap NAME OUTPUT.txt MIN_REQUESTS SERVER_LOG PARAM...
    scanlib.py wapiti REPORT.json SERVER_LOG MIN_REQUESTS
    scanlib.py testssl REPORT.json
    scanlib.py selftest TESTDATA_DIR       # the checks fail on known-bad reports
"""

import collections
import html
import http.server
import json
import re
import sys
import threading


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


# ---------------------------------------------------------------- wapiti page

def forms_page(out, base, cursor, refresh_token, user, password):
    """Writes the page wapiti starts from. Wapiti 3.0.4 finds what to
    attack by crawling HTML; gatehouse serves only JSON, so this page lists
    the API's query-string and form-encoded inputs as links and forms.
    Every input is type=hidden: wapiti replaces the value of text inputs
    whose name contains "user" or "pass" with its own (alice/Letm3in_),
    hidden ones keep the value given here."""
    e = html.escape
    links = [
        f"{base}/v1/notes?q=seed&limit=5&cursor={cursor}",
        f"{base}/v1/notes?q=note&limit=20",
        f"{base}/v1/users/me",
        f"{base}/v1/sessions",
        f"{base}/.well-known/oauth-authorization-server",
    ]
    forms = [
        (f"{base}/v1/auth/token", [("grant_type", "password"), ("username", user), ("password", password)]),
        (f"{base}/v1/auth/token", [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]),
        (f"{base}/v1/auth/revoke", [("token", refresh_token), ("token_type_hint", "refresh_token")]),
    ]
    parts = ["<!doctype html><html><head><title>gatehouse scan targets</title></head><body>"]
    for href in links:
        parts.append(f'<p><a href="{e(href)}">{e(href)}</a></p>')
    for action, fields in forms:
        parts.append(f'<form method="post" action="{e(action)}" enctype="application/x-www-form-urlencoded">')
        for name, value in fields:
            parts.append(f'<input type="hidden" name="{e(name)}" value="{e(value)}">')
        parts.append('<input type="submit" value="send"></form>')
    parts.append("</body></html>")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        # The page is scanning scaffolding, not part of gatehouse; it
        # sends strict headers so that it never shows up in a report.
        self.send_header("Content-Security-Policy", "default-src 'none'; base-uri 'none'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        super().end_headers()

    def log_message(self, *args):
        pass


def serve(directory, portfile):
    handler = lambda *a, **kw: _Handler(*a, directory=directory, **kw)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


# ---------------------------------------------------------------- server log

def tool_requests(server_log, prefix):
    """The API requests a tool sent, found by the X-Request-ID each tool
    sets (gatehouse keeps a client's ID of 1-64 [A-Za-z0-9._-])."""
    counts = collections.Counter()
    with open(server_log) as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("msg") != "request" or not str(d.get("request_id", "")).startswith(prefix):
                continue
            counts[(d.get("route") or d.get("method", "") + " " + d.get("path", "") + " (no route)", d.get("status"))] += 1
    return counts


def print_requests(counts, indent="    "):
    for (route, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        print(f"{indent}{n:6d}  {status}  {route}")
    print(f"{indent}{sum(counts.values()):6d}  total")


def check_5xx(counts, what):
    bad = {k: n for k, n in counts.items() if isinstance(k[1], int) and k[1] >= 500 and k[1] != 503}
    if bad:
        fail(f"{what}: the server answered 5xx (other than 503 busy): {bad}")


# ---------------------------------------------------------------- sqlmap

# sqlmap's wording when it finds something (lib/controller/checks.py):
#   "sqlmap identified the following injection point(s)", then
#   "Parameter: id (GET)": the final verdict
#   "heuristic (basic) test shows that ... might be injectable"   (a DBMS
#       error message came back: SQL text in a response is a finding too)
#   "heuristic (XSS) test shows that ... might be vulnerable to ..."
#   "... is vulnerable. Do you want to keep testing the others"
SQLMAP_FOUND = re.compile(
    r"(identified the following injection point"
    r"|might be injectable"
    r"|might be vulnerable to"
    r"|is vulnerable\. Do you want"
    r"|^Parameter: \S+ \()"
)
# "GET parameter 'id' appears to be '...' injectable" (or "is '...'
# injectable") is sqlmap's first sign; for boolean-based hits it then
# checks the point with arithmetic it can predict, and withdraws it with
# "false positive or unexploitable injection point detected". A sign that
# is not withdrawn within its parameter's tests is a finding. (Note
# creation gives such signs now and then: the HTML sanitizer stores the
# payload's ' as &#39;, so sqlmap no longer recognises its own payload in
# the echoed body and the true and false answers differ by their text.)
SQLMAP_SIGN = re.compile(r"parameter '[^']+' (is|appears to be) '.*' injectable")
SQLMAP_WITHDRAWN = "false positive or unexploitable injection point detected"
SQLMAP_TESTED = re.compile(r"testing for SQL injection on (?:\(custom\) )?(?:\w+ )?parameter '(?:JSON )?([^']+)'")
# sqlmap's CRITICAL lines that are not errors: a created note differs from
# the last one by its ID and timestamps, so sqlmap marks those regions as
# dynamic, removes them from every comparison, and goes on.
SQLMAP_NOT_ERRORS = ("target URL content appears to be heavily dynamic. sqlmap is going to retry the request(s)",)


def check_sqlmap(name, output, min_requests, server_log, params):
    with open(output, errors="replace") as f:
        text = f.read()
    lines = text.splitlines()
    found = [l for l in lines if SQLMAP_FOUND.search(l)]
    # Signs per parameter: the lines from one "testing for SQL injection
    # on ... parameter" to the next.
    block = []
    for l in lines + ["testing for SQL injection on parameter '(end)'"]:
        if SQLMAP_TESTED.search(l):
            signs = [b for b in block if SQLMAP_SIGN.search(b)]
            if signs and any(SQLMAP_WITHDRAWN in b for b in block):
                for sign in signs:
                    print(f"  sqlmap {name}: withdrawn by sqlmap's false-positive check: {sign.strip()}")
            else:
                found += signs
            block = []
        block.append(l)
    if found:
        fail(f"sqlmap {name}: injection reported:\n  " + "\n  ".join(found[:20]))
    crit = [l for l in text.splitlines() if "[CRITICAL]" in l and not any(ok in l for ok in SQLMAP_NOT_ERRORS)]
    if crit:
        fail(f"sqlmap {name}: sqlmap stopped with an error:\n  " + "\n  ".join(crit[:10]))
    tested = set(SQLMAP_TESTED.findall(text))
    missing = [p for p in params if p not in tested]
    if missing:
        fail(f"sqlmap {name}: parameters never tested: {missing} (tested: {sorted(tested)})")
    if "all tested parameters do not appear to be injectable" not in text:
        fail(f"sqlmap {name}: no final verdict in its output (interrupted or timed out?)")
    counts = tool_requests(server_log, f"sqlmap-{name}")
    print(f"  sqlmap {name}: tested {sorted(tested)}; requests that reached gatehouse:")
    print_requests(counts)
    check_5xx(counts, f"sqlmap {name}")
    if sum(counts.values()) < min_requests:
        fail(f"sqlmap {name}: only {sum(counts.values())} requests reached the server, expected at least {min_requests}")
    print(f"  sqlmap {name}: no injectable parameter")


# ---------------------------------------------------------------- wapiti

# Findings that are false positives for a JSON API, each with the reason.
# Only the exact (category, info) pair is excluded, nothing else in its
# category.
WAPITI_EXPECTED = {
    # Wapiti 3.0.4 (mod_http_headers) wants "X-XSS-Protection: 1". The
    # header drove the XSS auditors of old browsers, which were removed
    # (Chrome 78, Edge 17) or never shipped (Firefox); "1; mode=block"
    # itself enabled cross-site leaks in them. OWASP's Secure Headers
    # Project and HTTP Headers Cheat Sheet say to not set it (or set 0)
    # and to rely on Content-Security-Policy, which gatehouse sends on
    # every response (default-src 'none'; frame-ancestors 'none'; the
    # csp module checks it). API.md lists the headers gatehouse sends;
    # X-XSS-Protection is deliberately not one of them.
    ("HTTP Secure Headers", "X-XSS-Protection is not set"),
}


def check_wapiti(report, server_log, min_requests):
    with open(report) as f:
        d = json.load(f)
    problems = []
    for category, items in sorted(d.get("vulnerabilities", {}).items()):
        for v in items:
            key = (category, v.get("info", ""))
            where = f"{v.get('method')} {v.get('path')} {v.get('parameter', '')}".strip()
            if key in WAPITI_EXPECTED:
                print(f"  wapiti: expected, documented false positive: {category}: {v.get('info')} ({where})")
                continue
            problems.append(f"{category}: {v.get('info')} ({where})")
    for category, items in sorted(d.get("anomalies", {}).items()):
        for v in items:
            where = f"{v.get('method')} {v.get('path')} {v.get('parameter', '')}".strip()
            problems.append(f"anomaly {category}: {v.get('info')} ({where})")
    counts = tool_requests(server_log, "wapiti")
    print("  wapiti: requests that reached gatehouse:")
    print_requests(counts)
    infos = d.get("infos", {})
    print(f"  wapiti: target {infos.get('target')}, scope {infos.get('scope')}, version {infos.get('version')}")
    if problems:
        fail("wapiti findings:\n  " + "\n  ".join(problems))
    check_5xx(counts, "wapiti")
    total = sum(counts.values())
    if total < min_requests:
        fail(f"wapiti: only {total} requests reached the server, expected at least {min_requests}")
    # The attacks must have reached the routes with parameters.
    for route in ("GET /v1/notes", "POST /v1/auth/token", "POST /v1/auth/revoke"):
        n = sum(c for (r, _), c in counts.items() if r == route)
        if n < 20:
            fail(f"wapiti: only {n} requests to {route}; the attacks did not reach it")
    print("  wapiti: no vulnerability, no anomaly")


# ---------------------------------------------------------------- testssl

# HIGH or CRITICAL findings that concern the throwaway certificate of
# --dev-tls, not gatehouse's TLS configuration.
TESTSSL_EXPECTED = {
    # The self-signed development certificate names no CRL or OCSP
    # responder: nothing could answer for it. Production certificates come
    # from a CA (ACME or --tls-cert), which decides how they are revoked.
    "cert_revocation": "Neither CRL nor OCSP URI provided",
}


def check_testssl(report):
    with open(report) as f:
        d = json.load(f)
    by_id = {}
    problems = []
    for item in d:
        fid, sev, finding = item.get("id", ""), item.get("severity", ""), item.get("finding", "")
        by_id.setdefault(fid, []).append(item)
        if sev in ("HIGH", "CRITICAL"):
            if TESTSSL_EXPECTED.get(fid) == finding:
                print(f"  testssl: expected for the self-signed dev certificate: {fid} {sev}: {finding}")
                continue
            problems.append(f"{fid} {sev}: {finding}")
        if fid == "scanProblem" or sev == "FATAL":
            problems.append(f"testssl could not finish: {fid}: {finding}")

    def finding(fid):
        items = by_id.get(fid)
        if not items:
            problems.append(f"{fid}: missing from the report")
            return ""
        return items[0].get("finding", "")

    for fid in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        if not finding(fid).startswith("not offered"):
            problems.append(f"{fid}: {finding(fid)!r}, want not offered")
    if not finding("TLS1_2").startswith("offered"):
        problems.append(f"TLS1_2: {finding('TLS1_2')!r}, want offered")
    # Every cipher suite the server accepts, per protocol (-E): each must
    # be an AEAD one, so no CBC (RFC 9325 §4.2; docs/TLS.md). The finding
    # ends with the suite's IANA name, e.g. "TLS 1.2 xc02b
    # ECDHE-ECDSA-AES128-GCM-SHA256 ... TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".
    suites = [i for i in d if i.get("id", "").startswith("cipher-tls")]
    if not suites:
        problems.append("no per-protocol cipher list (cipher-tls*) in the report")
    for i in suites:
        iana = i.get("finding", "").split()[-1] if i.get("finding", "").split() else ""
        if "_CBC_" in iana or not re.search(r"_GCM_|_CHACHA20_POLY1305_|_CCM", iana):
            problems.append(f"CBC or other non-AEAD suite accepted: {i['id']}: {i['finding']}")
    for fid in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"):
        if not finding(fid).startswith("not offered"):
            problems.append(f"{fid}: {finding(fid)!r}, want not offered")
    hsts = by_id.get("HSTS_time", [{}])[0]
    if hsts.get("severity") != "OK":
        seen = by_id.get("HSTS", [{}])[0].get("finding") or hsts.get("finding")
        problems.append(f"HSTS: {seen!r}, want Strict-Transport-Security with a max-age of at least 180 days")
    print(f"  testssl: {len(d)} findings; TLS1_2 {finding('TLS1_2')!r}, TLS1_3 {finding('TLS1_3')!r}, "
          f"{len(suites)} accepted suites, HSTS {hsts.get('finding')!r}")
    for i in suites:
        print(f"    {i['id']}: {i['finding']}")
    if problems:
        fail("testssl:\n  " + "\n  ".join(problems))
    print("  testssl: no HIGH or CRITICAL finding, TLS 1.0/1.1 not offered, no CBC suite, HSTS present")


def selftest(testdata):
    """Runs each check on a report with findings and wants it to fail for
    the right reasons, so that a check that parses nothing cannot pass
    silently. sqlmap-injectable.txt and wapiti-xss.json are real outputs
    of these versions against a deliberately vulnerable server (SQL
    concatenation, reflected HTML); testssl-weak.json has testssl's fields
    for a server with TLS 1.0, CBC and 3DES suites and no HSTS.
    sqlmap-withdrawn.txt is sqlmap against gatehouse's note creation with
    a sign that sqlmap's own false-positive check withdrew: it must pass."""
    import contextlib
    import io
    import os
    import tempfile

    def expect_failure(what, fn, *wants):
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                fn()
        except SystemExit as e:
            if e.code == 1 and all(w in buf.getvalue() for w in wants):
                print(f"  selftest {what}: fails as it should")
                return
        print(buf.getvalue())
        fail(f"selftest {what}: the check did not fail with {wants}")

    with tempfile.NamedTemporaryFile("w", suffix=".log") as log:
        t = lambda name: os.path.join(testdata, name)
        expect_failure("sqlmap", lambda: check_sqlmap("vuln", t("sqlmap-injectable.txt"), 1, log.name, ["id"]),
                       "injection reported", "Parameter: id (GET)", "might be injectable",
                       "appears to be 'AND boolean-based blind - WHERE or HAVING clause' injectable")
        # A sign sqlmap withdrew itself (gatehouse's note creation) passes.
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            check_sqlmap("notes-create", t("sqlmap-withdrawn.txt"), 0, log.name, ["title", "body"])
        if "withdrawn by sqlmap's false-positive check" not in buf.getvalue():
            fail("selftest sqlmap: the withdrawn sign in sqlmap-withdrawn.txt was not recognised")
        print("  selftest sqlmap: a sign sqlmap withdrew itself passes")
        expect_failure("wapiti", lambda: check_wapiti(t("wapiti-xss.json"), log.name, 1),
                       "XSS vulnerability found via injection in the parameter q", "CSP is not set",
                       "X-Frame-Options is not set")
        expect_failure("testssl", lambda: check_testssl(t("testssl-weak.json")),
                       "SWEET32 HIGH", "TLS1: 'offered (deprecated)'", "TLS1_1:",
                       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "HSTS")


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "forms-page":
        forms_page(*args)
    elif cmd == "serve":
        serve(*args)
    elif cmd == "requests":
        print_requests(tool_requests(args[0], args[1]))
    elif cmd == "sqlmap":
        check_sqlmap(args[0], args[1], int(args[2]), args[3], args[4:])
    elif cmd == "wapiti":
        check_wapiti(args[0], args[1], int(args[2]))
    elif cmd == "testssl":
        check_testssl(args[0])
    elif cmd == "selftest":
        selftest(args[0])
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
