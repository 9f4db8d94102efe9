#!/usr/bin/env python3
"""Generates X-Twilio-Signature test vectors with Twilio's official Python helper library.

The output is committed as Tests/ParleyTests/Fixtures/twilio-signature-vectors.json and replayed
by the Swift tests, so CI needs no Python. Regenerate with:

    python3 -m venv /tmp/twilio-venv && /tmp/twilio-venv/bin/pip install twilio
    /tmp/twilio-venv/bin/python Scripts/generate-signature-vectors.py > Tests/ParleyTests/Fixtures/twilio-signature-vectors.json

Every vector records the signature the library computes and, for a set of variations (the URL
with and without its port, a tampered signature, another secret, a changed parameter), whether
the library's validate() accepts it. Parley must agree on every one.
"""
import hashlib
import json
from urllib.parse import quote

import twilio
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator, add_port, remove_port
from urllib.parse import urlparse

AUTH_TOKEN = "12345abcdef67890fedcba0987654321"
OTHER_TOKEN = "ffffffffffffffffffffffffffffffff"
SHARED_KEY_ID = "webhooks_sharedkey_0123456789abcdef"
SHARED_KEY = "shared-key-secret-0123456789-abcdefghij"


class Multi:
    """Ordered form parameters with repeated names, as Flask's MultiDict."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __iter__(self):
        return iter(dict.fromkeys(name for name, _ in self.pairs))

    def __len__(self):
        return len(self.pairs)

    def getall(self, name):
        return [value for key, value in self.pairs if key == name]


def twilio_form(body, extra=()):
    return [
        ("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("NumMedia", "0"), ("ToCity", "SAN FRANCISCO"), ("FromZip", "02108"),
        ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"), ("FromState", "MA"), ("SmsStatus", "received"),
        ("FromCity", "BOSTON"), ("Body", body), ("FromCountry", "US"), ("To", "+14155550199"),
        ("ToZip", "94105"), ("NumSegments", "1"), ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("AccountSid", "AC9a3b9c6e8d5f4e7c2a1b0d9e8f7a6b5c"), ("From", "+16175550123"), ("ApiVersion", "2010-04-01"),
    ] + list(extra)


URLS = [
    "https://example.com/sms",
    "https://example.com:443/sms",
    "http://example.com/sms",
    "http://example.com:80/sms",
    "https://example.com:8443/sms",
    "http://127.0.0.1:8080/sms",
    "https://mycompany.com/myapp.php?foo=1&bar=2",
    "https://example.com/sms?name=O'Brien&plus=a+b&space=a%20b&email=user@example.com",
    "https://example.com/sms?q=%E2%9C%93&empty=&flag",
    "https://sub.example.co.uk/path/with%2Fslash/sms?x=%27quoted%27",
]

FORMS = [
    ("plain", twilio_form("Hello there")),
    ("unicode", twilio_form("Caf\u00e9 \U0001F600 \u201ccurly\u201d \u4f60\u597d")),
    ("symbols", twilio_form("a+b=c&d e%20f 'q' \"dq\" @x <y>")),
    ("empty-body", twilio_form("")),
    ("repeated", twilio_form("hi", [("Tag", "b"), ("Tag", "a"), ("Tag", "b"), ("Tag", "A")])),
    ("media", twilio_form("pic", [("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/SM1/Media/ME1"), ("MediaContentType0", "image/jpeg")])),
    ("none", []),
]


def variants(url):
    parsed = urlparse(url)
    out = [url, add_port(parsed), remove_port(parsed)]
    return list(dict.fromkeys(out))


def vector(name, method, url, pairs, body, algorithm, secret, key_id):
    validator = RequestValidator(secret)
    params = Multi(pairs) if method == "POST" and body is None else {}
    signature = validator.compute_signature(url, params, algorithm)
    checks = []
    validate_params = body if body is not None else params
    for variant in variants(url):
        checks.append({"url": variant, "signature": signature, "valid": validator.validate(variant, validate_params, signature, algorithm)})
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    checks.append({"url": url, "signature": tampered, "valid": validator.validate(url, validate_params, tampered, algorithm)})
    other = RequestValidator(OTHER_TOKEN).compute_signature(url, params, algorithm)
    checks.append({"url": url, "signature": other, "valid": validator.validate(url, validate_params, other, algorithm)})
    if pairs and body is None and method == "POST":
        changed = [(k, v + "x") if k == pairs[0][0] else (k, v) for k, v in pairs]
        ok = validator.validate(url, Multi(changed), signature, algorithm)
        checks.append({"url": url, "params": changed, "signature": signature, "valid": ok})
    return {
        "name": name, "method": method, "url": url, "params": pairs if body is None else [],
        "body": body, "algorithm": algorithm, "secret": secret, "keyId": key_id,
        "signature": signature, "checks": checks,
    }


def vectors():
    out = []
    for algorithm, secret, key_id in [(HMAC_SHA1, AUTH_TOKEN, None), (HMAC_SHA256, SHARED_KEY, SHARED_KEY_ID)]:
        for url in URLS:
            for form_name, pairs in FORMS:
                out.append(vector(f"{algorithm} POST {form_name} {url}", "POST", url, pairs, None, algorithm, secret, key_id))
        # GET webhooks: the parameters are in the URL, nothing is appended.
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in twilio_form("Hi there \u2713 'x' +y"))
        for base in ["https://example.com/sms", "https://example.com:443/sms"]:
            out.append(vector(f"{algorithm} GET {base}", "GET", base + "?" + query, [], None, algorithm, secret, key_id))
        # JSON bodies: the URL carries bodySHA256 and is signed alone.
        for body in ['{"property": "value", "boolean": true}', '{"text":"Caf\u00e9 \U0001F600"}']:
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
            url = f"https://example.com/events?bodySHA256={digest}"
            out.append(vector(f"{algorithm} JSON {body[:12]}", "POST", url, [], body, algorithm, secret, key_id))
    return out


print(json.dumps({
    "generator": "twilio-python " + twilio.__version__,
    "authToken": AUTH_TOKEN, "otherToken": OTHER_TOKEN, "sharedKeyId": SHARED_KEY_ID, "sharedKey": SHARED_KEY,
    "vectors": vectors(),
}, indent=1, ensure_ascii=False))
