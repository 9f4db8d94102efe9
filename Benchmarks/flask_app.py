"""The peer row: Twilio's SMS tutorial app ("Track SMS conversations with cookies").

Flask's signed-cookie session keeps a counter per conversation, the `twilio` library's
MessagingResponse renders the TwiML, and RequestValidator checks X-Twilio-Signature as Twilio's
"Secure your Flask app" tutorial does, so the row does the same signature work as Parley's.
Served by gunicorn with one worker per core (see run.sh / ParleyBench run).
"""

import os

from flask import Flask, abort, request, session
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("FLASK_SECRET_KEY", "parley-benchmark-flask-secret")
validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])


@app.route("/sms", methods=["POST"])
def sms_reply():
    signature = request.headers.get("X-Twilio-Signature", "")
    if not validator.validate(request.url, request.form, signature):
        abort(403)
    counter = session.get("counter", 0) + 1
    session["counter"] = counter
    response = MessagingResponse()
    response.message(f"Thanks, {request.values.get('From')}: this is message {counter}.")
    return str(response), 200, {"Content-Type": "text/xml; charset=utf-8"}
