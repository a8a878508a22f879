"""Upstream adapters, one module per wire protocol, registered by type name."""

from responses_gateway.providers import chat_completions, local, openai_responses
from responses_gateway.providers.base import Provider, ProviderCall, ProviderFactory

# Config names a provider `type`; adding a protocol adds one module and one line here.
PROVIDER_TYPES: dict[str, ProviderFactory] = {
    "openai_responses": openai_responses.create,
    "chat_completions": chat_completions.create,
    "local": local.create,  # xllamacpp is only ever imported by its worker process
}

# Which OpenAI API each protocol speaks: `openai.api.type` on the spans of calls to OpenAI itself.
OPENAI_API_TYPES = {"openai_responses": "responses", "chat_completions": "chat_completions"}

__all__ = ["OPENAI_API_TYPES", "PROVIDER_TYPES", "Provider", "ProviderCall", "ProviderFactory"]
