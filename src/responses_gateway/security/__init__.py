"""Who may call: API keys (hashed, per tenant), authentication of each call, and the auth mode."""

from responses_gateway.security.auth import Authenticator, Principal, auth_mode
from responses_gateway.security.keys import hash_key, new_key

__all__ = ["Authenticator", "Principal", "auth_mode", "hash_key", "new_key"]
