"""The manifest side: bytes in, documents out, and back (read, split, screen, parse, emit)."""
