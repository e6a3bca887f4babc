"""Time-based one-time passwords (RFC 6238) and recovery codes. Pure: the clock is an
argument, so replays and clock drift are testable.

A code is accepted for the current 30-second step or the one before or after (drift),
and only for a step later than the last one accepted for the user: a code cannot be
replayed, even within its window. Recovery codes are random, shown once, stored as
SHA-256 digests (they carry 60 bits of entropy, so a slow hash adds nothing) and used once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Final

import pyotp

STEP_SECONDS: Final = 30
DRIFT_STEPS: Final = 1
DIGITS: Final = 6
RECOVERY_CODES_PER_USER: Final = 10
_RECOVERY_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1
_RECOVERY_LENGTH: Final = 12


def new_secret() -> str:
    """160 random bits, base32 (RFC 4226 recommends at least 128)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, *, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=username, issuer_name=issuer)


def accepted_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to, if it is valid now and newer than `last_step`."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator shows at `now` (for the demo and the tests)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(now)


def new_recovery_codes() -> list[str]:
    return ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
            for _ in range(RECOVERY_CODES_PER_USER)]


def recovery_digest(code: str) -> str:
    normalized = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalized.encode()).hexdigest()
