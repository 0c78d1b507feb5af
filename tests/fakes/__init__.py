"""Local fake provider HTTP servers for tests (Telegram Bot API, Twilio REST API).

They listen on 127.0.0.1 with HTTP/1.1 keep-alive, record every request, and can be told to
fail. See the docstrings of :mod:`tests.fakes.fake_telegram` and :mod:`tests.fakes.fake_twilio`.
"""
