"""The gateway: OpenAI Responses API over gRPC and HTTP, in front of many providers."""
