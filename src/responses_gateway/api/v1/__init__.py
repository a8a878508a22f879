"""Generated from proto/responses_gateway/v1; never edit by hand."""
