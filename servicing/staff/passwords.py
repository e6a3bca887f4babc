"""Password policy and hashing. Pure (no I/O): argon2id, memory-hard, with parameters
that can be lowered only through the environment of a test run.

The policy follows NIST SP 800-63B: length matters, composition rules do not; a password
must not be a well-known one nor contain the user name. The upper bound keeps hashing
cost bounded (argon2 hashes any length, but a 1 MB "password" is an attack)."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PASSWORD_LENGTH_MIN: Final = 12
PASSWORD_LENGTH_MAX: Final = 128
COMMON_PASSWORDS: Final = frozenset({
    "123456789012", "password1234", "motdepasse123", "azertyuiop12", "qwertyuiop12", "administrator",
    "administrateur", "000000000000", "111111111111", "123123123123", "passwordpassword", "grandlivre123",
    "iloveyou1234", "changeme1234", "welcome12345", "bienvenue123", "password123!", "azerty123456",
})


class PasswordRejected(ValueError):
    """The password breaks the policy; the message says which rule."""


def check_policy(password: str, *, username: str) -> None:
    """Raise PasswordRejected when the password breaks the policy."""
    if len(password) < PASSWORD_LENGTH_MIN:
        raise PasswordRejected(f"a password has at least {PASSWORD_LENGTH_MIN} characters")
    if len(password) > PASSWORD_LENGTH_MAX:
        raise PasswordRejected(f"a password has at most {PASSWORD_LENGTH_MAX} characters")
    if not password.isprintable():
        raise PasswordRejected("a password holds printable characters only")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        raise PasswordRejected("this password is too common or too repetitive")
    if username and username.lower() in lowered:
        raise PasswordRejected("a password must not contain the user name")


class PasswordHashing:
    """argon2id with RFC 9106's second recommended parameters (64 MiB, 3 passes) by default."""

    def __init__(self, *, memory_kib: int = 65_536, time_cost: int = 3, parallelism: int = 4) -> None:
        assert 1_024 <= memory_kib <= 4_194_304, memory_kib
        assert 1 <= time_cost <= 10, time_cost
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self._dummy_hash = self._hasher.hash("not a password of anyone")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether the user exists or not (a missing hash checks a dummy one)."""
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
