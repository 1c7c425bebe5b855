"""The password policy: long enough, not the username, not one of the passwords attackers try first."""

from __future__ import annotations

from radscholar_core.errors import InvalidArgument

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

# The most common passwords that are long enough to pass the length rule (from public breach
# corpora); compared case-insensitively. Shorter common passwords already fail the length rule.
COMMON_PASSWORDS = frozenset(
    {
        "000000000000",
        "111111111111",
        "123123123123",
        "123456123456",
        "123456789012",
        "123456789123",
        "1234567890qwerty",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "a1b2c3d4e5f6",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "abc123abc123",
        "administrator",
        "changeme1234",
        "iloveyou1234",
        "letmein12345",
        "password1234",
        "password123!",
        "passwordpassword",
        "p@ssw0rd1234",
        "qwerty123456",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "welcome12345",
        "zaq12wsxcde3",
    }
)


def check_password(password: str, username: str) -> None:
    """Raises InvalidArgument WEAK_PASSWORD naming every rule ``password`` breaks."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"it is shorter than {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"it is longer than {MAX_PASSWORD_LENGTH} characters")
    if username and username.lower() in password.lower():
        problems.append("it contains the username")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("it is one of the most common passwords")
    if problems:
        raise InvalidArgument(
            "password is too weak: " + "; ".join(problems),
            reason="WEAK_PASSWORD",
            details={"min_length": str(MIN_PASSWORD_LENGTH)},
        )
