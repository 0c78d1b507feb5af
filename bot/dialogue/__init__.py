"""The conversation: NLU results in, replies and actions out, the same on every channel."""
