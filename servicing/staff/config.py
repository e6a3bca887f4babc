"""Security settings, read once from the environment, with safe defaults."""

from __future__ import annotations

import os

import msgspec


class StaffSettings(msgspec.Struct, frozen=True, kw_only=True):
    access_token_minutes: int = 15
    refresh_token_hours: int = 12
    failed_sign_ins_max: int = 5
    """Consecutive failures before the account locks."""
    lockout_minutes: int = 15
    totp_issuer: str = "Grand Livre"
    session_cache_seconds: float = 2.0
    """How long a process trusts a token it has checked. Sign-out and disabling a user evict at
    once in the process that does them; other server processes follow within this delay."""
    argon2_memory_kib: int = 65_536
    argon2_time_cost: int = 3
    sign_in_attempts_per_minute: int = 20
    """Per client address, on the sign-in route."""

    def __post_init__(self) -> None:
        assert 1 <= self.access_token_minutes <= 24 * 60
        assert 1 <= self.refresh_token_hours <= 24 * 30
        assert 1 <= self.failed_sign_ins_max <= 100
        assert 0 <= self.session_cache_seconds <= 60

    @classmethod
    def from_environment(cls) -> StaffSettings:
        environ = os.environ
        defaults = cls()
        return cls(
            access_token_minutes=int(environ.get("GRANDLIVRE_ACCESS_TOKEN_MINUTES", defaults.access_token_minutes)),
            refresh_token_hours=int(environ.get("GRANDLIVRE_REFRESH_TOKEN_HOURS", defaults.refresh_token_hours)),
            failed_sign_ins_max=int(environ.get("GRANDLIVRE_FAILED_SIGN_INS_MAX", defaults.failed_sign_ins_max)),
            lockout_minutes=int(environ.get("GRANDLIVRE_LOCKOUT_MINUTES", defaults.lockout_minutes)),
            totp_issuer=environ.get("GRANDLIVRE_TOTP_ISSUER", defaults.totp_issuer),
            session_cache_seconds=float(environ.get("GRANDLIVRE_SESSION_CACHE_SECONDS",
                                                    defaults.session_cache_seconds)),
            argon2_memory_kib=int(environ.get("GRANDLIVRE_ARGON2_MEMORY_KIB", defaults.argon2_memory_kib)),
            argon2_time_cost=int(environ.get("GRANDLIVRE_ARGON2_TIME_COST", defaults.argon2_time_cost)),
            sign_in_attempts_per_minute=int(environ.get("GRANDLIVRE_SIGN_IN_ATTEMPTS_PER_MINUTE",
                                                        defaults.sign_in_attempts_per_minute)),
        )
