"""The model service: FastAPI routes over `creditops`."""
