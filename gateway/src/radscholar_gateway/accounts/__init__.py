"""Identity at the gateway: users and roles, password sign-in, tokens, API keys, project membership.

Every call blocks (argon2, SQL): from ``async def`` run it with ``asyncio.to_thread``. Failures are
``radscholar_core.errors`` types with stable reasons (INVALID_CREDENTIALS, ACCOUNT_LOCKED,
TOKEN_EXPIRED, API_KEY_REVOKED, ...). The tables are in ``tables.py``, migrated from
``radscholar_gateway.migrations``.
"""

from radscholar_gateway.accounts.api_keys import ApiKey, ApiKeys
from radscholar_gateway.accounts.memberships import Member, Memberships, ProjectRole
from radscholar_gateway.accounts.passwords import MIN_PASSWORD_LENGTH, check_password
from radscholar_gateway.accounts.tokens import AccessClaims, TokenPair, Tokens
from radscholar_gateway.accounts.users import Accounts, LoginPolicy, Role, User, UserListing, Via

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "AccessClaims",
    "Accounts",
    "ApiKey",
    "ApiKeys",
    "LoginPolicy",
    "Member",
    "Memberships",
    "ProjectRole",
    "Role",
    "TokenPair",
    "Tokens",
    "User",
    "UserListing",
    "Via",
    "check_password",
]
