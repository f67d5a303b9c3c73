"""Records, JSONL I/O, the run mechanism, the solve format and the command-line helpers every stage shares."""
