"""Microsoft's data objects as pydantic models, one module per service."""
