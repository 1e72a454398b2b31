"""The pipeline's writers: what a run produces (the manifest stream, a diff, an explanation, JSON)."""
