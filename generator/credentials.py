"""Detectors for credentials: by the name of a key and by the shape of a value.

Two users share them: the PR diff (generator.diff.redaction) hides every match, and the
input check (generator.model.literals) reports literal credentials typed into inputs.
Nothing here imports another drydock module.

Value detectors (`find_in_text`) return spans: the part of a string that is secret.
- URL userinfo: the password of `scheme://user:password@host` (the password may hold `@`
  and `/`: everything up to the last `@` of the URL is userinfo).
- key=value parameters: `password=`, `pwd=`, `token=`, `secret=`, `api_key=`, ... after `?`,
  `&`, `;`, a space or the start (query strings, JDBC `;password=`, libpq DSNs).
- JDBC Oracle thin URLs: `jdbc:oracle:thin:user/password@host`.
- AWS access key ids (`AKIA...`, `ASIA...`).
- Authorization header credentials: the token after `Bearer ` / `Basic `.
- (redaction only) the password of `curl -u user:password` / `--user` / `--proxy-user`.
- PEM blocks (`-----BEGIN ...-----` to the matching END, or to the end of the text).
- High-entropy tokens: 20+ characters of the base64/url-safe alphabet with upper case, lower
  case and digits, and Shannon entropy near that of random text. Hex-only strings are never
  flagged by entropy: image digests, git SHAs, checksum annotations and UUIDs are hex, and
  they are not secrets (a hex secret is still found by its key name).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

# -- key names ---------------------------------------------------------------------------
# Broad: any key containing one of these (the diff hides rather than shows).
_BROAD_KEY = re.compile(r"pass|pwd|(?:^|[^a-z])pw(?:$|[^a-z])|secret|token|key|credential|creds?(?:$|[^a-z])|auth|private|dsn|salt|cookie", re.I)
# Words that make a key a credential in inputs (a finding must not cry wolf).
_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "pw", "pass", "passphrase", "secret", "secrets", "token", "tokens",
                           "credential", "credentials", "creds", "apikey", "privatekey", "dsn"})
# A last word that says the key is *about* a credential, not the credential itself.
_META_WORDS = frozenset({"name", "names", "ref", "refs", "path", "paths", "file", "files", "dir", "id", "ids",
                         "prefix", "suffix", "header", "headers", "ttl", "seconds", "secs", "minutes", "hours",
                         "timeout", "expiry", "expires", "expiration", "length", "size", "type", "mode", "enabled",
                         "disabled", "required", "endpoint", "format", "policy", "version", "count", "interval",
                         "issuer", "audience", "algorithm", "alg", "field", "env", "location", "provider", "store",
                         "kind", "selector", "namespace", "mount", "max", "min", "rotation", "source", "url"})


def words(key: str) -> list[str]:
    """`dbPassword` / `DB_PASSWORD` / `db.password` / `db-password` -> ['db', 'password']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(key))
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def broad_secret_key(key: object) -> bool:
    """Any key that may hold a secret: *pass*, *secret*, *token*, *key*, ... in any case."""
    return bool(_BROAD_KEY.search(str(key)))


def loose_secret_key(key: object) -> bool:
    """For redaction of flags and assignments: any broad credential word (`--mypasswddata`,
    `AUTHKEY=`) unless the last word says the key is about one (`--token-file`, `--key-id`)."""
    ws = words(str(key))
    return broad_secret_key(key) and bool(ws) and ws[-1] not in _META_WORDS


def secret_key(key: object) -> bool:
    """A key that names a credential (DB_PASSWORD, apiKey, auth.token, STRIPE_KEY), not
    one about a credential (PASSWORD_FILE, TOKEN_TTL_SECONDS, CACHE_KEY_PREFIX, secretName)."""
    ws = words(str(key))
    if not ws or ws[-1] in _META_WORDS or "existing" in ws:  # Helm's existingSecret names a Secret
        return False
    joined = "".join(ws)
    if any(w in _SECRET_WORDS for w in ws) or "password" in joined or "apikey" in joined or "privatekey" in joined:
        return True
    return ws[-1] in ("key", "keys") and len(ws) > 1  # ENCRYPTION_KEY, signing-key; not a bare `key`


# -- values -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # url-password | parameter | jdbc-password | aws-access-key | auth-header | pem | high-entropy


_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://(?P<userinfo>[^\s'\"<>]*)@")
# redaction also hides a password holding a single quote (more hidden beats one shown)
_URL_QUOTE = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://(?P<userinfo>[^\s\"<>]*)@")
_PARAM = re.compile(
    r"(?i)(?:^|(?<=[?&;\s,{(=]))(?:[a-z0-9_.-]*?[_.-])?"
    r"(?:password|passwd|pwd|pass|passphrase|secret|client_secret|token|access_token|auth_token|"
    r"refresh_token|api_key|apikey|access_key|secret_key|private_key|sig|signature|credentials?)"
    r"\s*=\s*(?P<value>'[^']*'|\"[^\"]*\"|[^&;\s#,)}]+)")
_ORACLE = re.compile(r"(?i)jdbc:oracle:[a-z0-9]+:@?[^/\s@:]+/(?P<pw>[^@\s]+)@")
# an Authorization header's credential: `Bearer eyJ...`, `Basic dXNlcjpwYXNz` (a word after
# Basic/Bearer is prose unless it holds a digit or a base64 symbol)
_AUTH = re.compile(r"(?i)\b(?:bearer|basic)[ \t]+(?P<tok>(?=[A-Za-z0-9+/=._~-]*[0-9+/=])[A-Za-z0-9+/=._~-]{8,})")
# `curl -u user:password`, `--user=user:password`, `--proxy-user ...` (redaction only: `-u 1000:1000`
# is a uid:gid elsewhere, so the password part must hold a non-digit)
_USER_FLAG = re.compile(r"(?:^|(?<=\s))(?:-u|--user|--proxy-user)(?:\s+|=)[^\s:'\"]+:"
                        r"(?P<pw>(?=[^\s'\"]*[^\d\s'\"])[^\s'\"]+)")
# Shell strings (redaction only). `NAME=value` whose NAME is a credential (PGPASSWORD=...,
# export STRIPE_KEY=...); `--flag value` whose flag is one (`--db-password s3cret`); and the tools
# that take a password by a short flag: `mysql -pS3cret` (attached), `redis-cli -a`, `sshpass -p`,
# `mongosh -p`. A flag's value never starts with '-' (that is the next flag).
_SHELL_VALUE = r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s'\";&|)`]+)"
_ASSIGN = re.compile(r"(?:^|(?<=[\s;&|(`='\"]))(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=" + _SHELL_VALUE)
_LONG_FLAG = re.compile(r"(?:^|(?<=\s))-{1,2}(?P<name>[A-Za-z][A-Za-z0-9_.-]*)[ \t]+(?=[^\s-])" + _SHELL_VALUE)
_TOOL_FLAG = re.compile(r"(?:^|(?<=[\s;&|(`/'\"]))(?:(?:mysql[a-z]*|mariadb[a-z-]*)(?=\s)[^\n;&|]*?\s-p(?=\S)"
                        r"|(?:redis-cli(?=\s)[^\n;&|]*?\s-a|sshpass(?=\s)[^\n;&|]*?\s-p"
                        r"|mongo[a-z]*(?=\s)[^\n;&|]*?\s-p)[ \t]+(?=[^\s-]))" + _SHELL_VALUE)
# `key: value` on one line (a header, a flow mapping, a log-style string) whose key is a credential,
# with an optional auth scheme: `X-Api-Key: ...`, `Authorization: token ...`, `smtp_password: ...`
_COLON = re.compile(r"(?:^|(?<=[\s,{(;='\"]))(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:[ \t]+"
                    r"(?:(?:token|bearer|basic|digest|apikey)[ \t]+)?(?=[^\s|>])" + _SHELL_VALUE.replace(";&|)`", ";&|)`,}"))
_AUTH_HEADERS = ("authorization", "proxy-authorization")
_NOT_SECRETS = frozenset({"", "true", "false", "yes", "no", "on", "off", "none", "null", "required", "optional",
                          "enabled", "disabled"})
# a secret piped into a command that reads it from stdin (`echo $X | docker login --password-stdin`),
# and htpasswd's batch mode (`htpasswd -b FILE USER PASSWORD`)
_STDIN_SECRET = re.compile(r"(?:^|(?<=[\s;&(`]))(?:echo|printf)(?:[ \t]+-[a-z]+)*[ \t]+" + _SHELL_VALUE +
                           r"[ \t]*\|[^|\n]*--password-stdin")
_HTPASSWD = re.compile(r"(?:^|(?<=[\s;&(`/]))htpasswd[ \t]+-[a-zA-Z]*b[a-zA-Z]*(?:[ \t]+-[a-zA-Z]+)*[ \t]+\S+[ \t]+\S+[ \t]+"
                       + _SHELL_VALUE)
# a URL password holding a space (not legal in a URL, but written so in config strings): up to the
# last '@' on the line that a host follows
_URL_SPACED = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/?#@'\"<>]*:(?P<pw>(?:(?!://)[^\n'\"<>])*\s(?:(?!://)[^\n'\"<>])*)"
                         r"@[A-Za-z0-9\[]")
_AWS_KEY = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]{1,60}-----(?:.*?-----END [A-Z0-9 ]{1,60}-----|.*\Z)", re.S)
_TOKEN = re.compile(r"[A-Za-z0-9+/=_~.-]{20,}")
_HEX = re.compile(r"[0-9a-fA-F:.=-]+")
MIN_ENTROPY_LEN = 20


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values()) if n else 0.0


def high_entropy(token: str) -> bool:
    """Random-looking: long, mixed upper/lower/digits, not hex, and nearly as varied as random text."""
    if len(token) < MIN_ENTROPY_LEN or _HEX.fullmatch(token):
        return False
    if not (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"[0-9]", token)):
        return False
    return entropy(token) >= min(4.0, 0.8 * math.log2(len(token)))


def find_in_text(text: str, *, hide_more: bool = True) -> list[Span]:
    """Secret spans in `text`, sorted and non-overlapping.

    hide_more (redaction): `scheme://a:123/x@b` counts as a password although it may be a
    host, port and path; the input check (hide_more=False) reads it as host:port.
    """
    if not isinstance(text, str) or not text:
        return []
    spans: list[Span] = []
    for m in _PEM.finditer(text):
        spans.append(Span(m.start(), m.end(), "pem"))
    for m in [*_URL.finditer(text), *(_URL_QUOTE.finditer(text) if hide_more and "'" in text else ())]:
        info = m.group("userinfo")
        user, colon, password = info.partition(":")
        # host:port/path@x is not userinfo: a user never holds '/', a port is digits then a path
        if colon and password and not re.search(r"[/?#]", user) and not (
                not hide_more and re.match(r"\d*(?:[/?#]|$)", password)):
            start = m.start("userinfo") + len(user) + 1
            if start < m.end("userinfo"):
                spans.append(Span(start, m.end("userinfo"), "url-password"))
    for m in _ORACLE.finditer(text):
        spans.append(Span(m.start("pw"), m.end("pw"), "jdbc-password"))
    for m in _PARAM.finditer(text):
        if m.end("value") > m.start("value"):
            spans.append(Span(m.start("value"), m.end("value"), "parameter"))
    for m in _AWS_KEY.finditer(text):
        spans.append(Span(m.start(), m.end(), "aws-access-key"))
    for m in _AUTH.finditer(text):
        spans.append(Span(m.start("tok"), m.end("tok"), "auth-header"))
    if hide_more:
        spans += _shell_spans(text)
    precise = list(spans)
    for m in _TOKEN.finditer(text):
        # A JWT or a path splits into parts; each part is judged on its own as well.
        pieces = [(m.start(), m.group())] + [(m.start() + p.start(), p.group())
                                            for p in re.finditer(r"[^./]+", m.group())]
        for start, tok in pieces:
            if high_entropy(tok):
                # a token that overlaps a precise match (password=...) is that match, not a new one
                if not any(s.start < start + len(tok) and start < s.end for s in precise):
                    spans.append(Span(start, start + len(tok), "high-entropy"))
                break
    return _merge(spans)


def _shell_spans(text: str) -> list[Span]:
    """Credentials as a command line or a loose config string carries them (redaction only)."""
    spans = [Span(m.start("pw"), m.end("pw"), "url-password")
             for rx in (_USER_FLAG, _URL_SPACED) for m in rx.finditer(text)]
    for rx in (_ASSIGN, _LONG_FLAG):
        spans += [Span(m.start("value"), m.end("value"), "parameter")
                  for m in rx.finditer(text) if loose_secret_key(m.group("name"))]
    # `key: value` reads like prose more often (`auth: enabled`): the stricter key test, no flag words
    spans += [Span(m.start("value"), m.end("value"), "parameter") for m in _COLON.finditer(text)
              if (secret_key(m.group("name")) or m.group("name").lower() in _AUTH_HEADERS)
              and m.group("value").strip("'\"").lower() not in _NOT_SECRETS]
    spans += [Span(m.start("value"), m.end("value"), "parameter")
              for rx in (_TOOL_FLAG, _STDIN_SECRET, _HTPASSWD) for m in rx.finditer(text)]
    return spans


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and s.start <= out[-1].end:
            last = out[-1]
            out[-1] = Span(last.start, max(last.end, s.end), last.kind)
        else:
            out.append(s)
    return out


def replace_spans(text: str, spans: list[Span], label: str) -> str:
    """`text` with every span replaced by `label`."""
    out, pos = [], 0
    for s in spans:
        out += [text[pos:s.start], label]
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def literal_credential(key: object, value: object) -> str | None:
    """Why `key: value` in an input is a literal credential, or None.

    A credential-named key with a literal value (not empty, not a number or boolean, not a
    `${VAR}` / `$(VAR)` / `{{ }}` reference), or any value holding a credential by shape.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return None
    text = str(value)
    for s in find_in_text(text, hide_more=False):
        if s.kind != "pem" or "PRIVATE KEY" in text[s.start:s.end][:80]:
            return _KIND_TEXT[s.kind]
    stripped = text.strip()
    if secret_key(key) and stripped and not re.fullmatch(r"\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\}|[0-9.]+|true|false", stripped, re.I):
        return f"'{key}' names a credential and holds a literal value"
    return None


_KIND_TEXT = {
    "pem": "a PEM private key block",
    "url-password": "a password in a URL",
    "jdbc-password": "a password in a JDBC URL",
    "parameter": "a credential parameter (password=, token=, ...)",
    "aws-access-key": "an AWS access key id",
    "auth-header": "an Authorization header credential (Bearer/Basic)",
    "high-entropy": "a high-entropy string that looks like a key or token",
}
