"""Task types: how a problem is put to the model, how an answer is judged, and its reward."""
