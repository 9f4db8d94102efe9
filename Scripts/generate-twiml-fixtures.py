#!/usr/bin/env python3
"""Renders reference TwiML with Twilio's official Python helper library.

The output is committed as Tests/ParleyTwiMLTests/Fixtures/twilio-helper-twiml.json; the Swift
tests build the same replies with ParleyTwiML and compare the documents as XML, so CI needs no
Python. Regenerate with:

    python3 -m venv /tmp/twilio-venv && /tmp/twilio-venv/bin/pip install twilio
    /tmp/twilio-venv/bin/python Scripts/generate-twiml-fixtures.py > Tests/ParleyTwiMLTests/Fixtures/twilio-helper-twiml.json
"""
import json

import twilio
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse


def case(name, response):
    return {"name": name, "xml": str(response)}


def cases():
    out = []

    r = MessagingResponse()
    r.message("Hello World!")
    out.append(case("plain-text", r))

    r = MessagingResponse()
    r.message(
        "Store Location: 123 Easy St.",
        to="+14155550100",
        from_="+14155550199",
        action="https://example.com/sms/status",
        method="GET",
        status_callback="https://example.com/cb?x=1&y=2",
    )
    out.append(case("attributes", r))

    r = MessagingResponse()
    m = r.message(to="+14155550100", action="/next", method="POST")
    m.body("Here are your photos")
    m.media("https://demo.twilio.com/owl.png")
    m.media("https://example.com/a.jpg?size=large&fmt=jpg")
    out.append(case("body-and-media", r))

    r = MessagingResponse()
    r.message("This is message 1 of 2.")
    r.message("This is message 2 of 2.")
    out.append(case("two-messages", r))

    r = MessagingResponse()
    r.message("Redirecting")
    r.redirect("https://example.com/next", method="GET")
    out.append(case("redirect", r))

    r = MessagingResponse()
    r.message('Tom & Jerry <3 "quotes" \'apostrophes\' > less', status_callback='https://x.test/?a="1"&b=<2>')
    out.append(case("escaping", r))

    r = MessagingResponse()
    out.append(case("empty", r))

    r = MessagingResponse()
    r.message("Caf\u00e9 \U0001F600 \u201ccurly\u201d \u4f60\u597d")
    out.append(case("unicode", r))

    r = MessagingResponse()
    m = r.message()
    m.media("https://example.com/only-media.gif")
    out.append(case("media-only", r))

    v = VoiceResponse()
    v.say("Our store is located at 123 Easy St.")
    v.sms("Store Location: 123 Easy St.", action="/smsHandler.php", method="POST")
    out.append(case("voice-say-sms-action", v))

    v = VoiceResponse()
    v.sms("The king stay the king.", from_="+14105551234", to="+14105556789", status_callback="/smsHandler.php")
    out.append(case("voice-sms-attributes", v))
    return out


print(json.dumps({"generator": "twilio-python " + twilio.__version__, "cases": cases()}, indent=2, ensure_ascii=False))
