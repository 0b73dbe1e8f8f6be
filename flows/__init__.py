"""Flow definitions: the model, loading from files, validation against components, mapping."""
