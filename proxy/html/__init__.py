"""HTML capabilities: pure, synchronous functions over page bytes (nothing async here)."""
