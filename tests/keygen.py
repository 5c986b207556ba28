"""Made-up keys in the real formats, generated at run time.

The repository contains no whole key, not even a fake one: each key is drawn
from a seeded random generator, so every run produces the same keys.
"""

from __future__ import annotations

import random
import string

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "_-"


class KeyGen:
    """Generate keys of each family from one seed."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)

    def chars(self, alphabet: str, count: int) -> str:
        """Return ``count`` characters drawn from ``alphabet``."""
        return "".join(self._random.choice(alphabet) for _ in range(count))

    def gateway(self) -> str:
        """Return a new-api gateway key: sk- and 48 letters or digits."""
        return "sk-" + self.chars(ALNUM, 48)

    def gateway_legacy(self) -> str:
        """Return a legacy gateway or DeepSeek-style key: sk- and 32 hex digits."""
        return "sk-" + self.chars(HEX, 32)

    def openai_legacy(self) -> str:
        """Return a legacy OpenAI key with the T3BlbkFJ marker."""
        return "sk-" + self.chars(ALNUM, 20) + "T3BlbkFJ" + self.chars(ALNUM, 20)

    def openai_project(self) -> str:
        """Return an OpenAI project key (sk-proj-)."""
        return "sk-proj-" + self.chars(B64URL, 74) + "T3BlbkFJ" + self.chars(B64URL, 74)

    def openai_none(self) -> str:
        """Return an OpenAI key of the sk-None- form."""
        return "sk-None-" + self.chars(ALNUM, 48)

    def anthropic(self) -> str:
        """Return an Anthropic API key (sk-ant-api03-)."""
        return "sk-ant-api03-" + self.chars(B64URL, 93) + "AA"

    def openrouter(self) -> str:
        """Return an OpenRouter key: sk-or-v1- and 64 hex digits."""
        return "sk-or-v1-" + self.chars(HEX, 64)

    def aws_key_id(self) -> str:
        """Return an AWS access key id (AKIA and 16 upper-case letters or digits)."""
        return "AKIA" + self.chars(UPPER_ALNUM, 16)

    def aws_secret(self) -> str:
        """Return an AWS secret access key: 40 base64 characters."""
        return self.chars(B64, 40)

    def github(self) -> str:
        """Return a GitHub personal access token (ghp_)."""
        return "ghp_" + self.chars(ALNUM, 36)

    def npm(self) -> str:
        """Return an npm access token (npm_)."""
        return "npm_" + self.chars(ALNUM, 36)

    def password(self, length: int = 16) -> str:
        """Return a random password of letters and digits."""
        return self.chars(ALNUM, length)
