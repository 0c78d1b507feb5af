"""The message path: receive (verify, parse, store, wake), process (the dialogue, one message
per transaction), the outbox (send with retries), the queue backends with their sweeper, media
download and Telegram polling. See docs/ARCHITECTURE.md, "The way one message travels".
"""
