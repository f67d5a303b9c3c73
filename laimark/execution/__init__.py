"""Running model-written code: the sandbox, its worker and wire format, and the one judging harness."""
